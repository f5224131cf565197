using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>Commands that end the run: panic, poweroff, reboot. One boot each.</summary>
public class PowerTests
{
    [Fact]
    public void Panic_prints_a_report_with_a_call_trace_and_exits_33()
    {
        using var m = QemuMachine.Start(new QemuOptions());
        m.WaitForBoot();
        var start = m.Lines.Count;
        m.SendLine("panic");
        var code = m.WaitForExit(TimeSpan.FromSeconds(30));
        var lines = m.Lines.Skip(start).Select(l => l.Text).ToList();
        var report = string.Join('\n', lines);

        Assert.True(code == KernelContract.PanicExitCode, $"QEMU exit code {code}, expected {KernelContract.PanicExitCode}\n{m.Tail()}");
        var panicLines = lines.Where(KernelContract.IsPanicLine).ToList();
        Assert.True(panicLines.Count > 0, $"no line starts with 'panic:'\n{report}");

        var panicText = string.Join('\n', panicLines);
        foreach (var field in new[] { "vector=", "error=", "rip=", "rsp=", "cr2=", "cpu=" })
            Assert.True(panicText.Contains(field, StringComparison.Ordinal), $"the panic report lacks '{field}'\n{report}");
        Assert.Matches(new Regex(@"vector=(14|0x0*[eE])\b"), panicText); // a page fault

        var trace = lines.FindIndex(l => l.Contains("call trace:", StringComparison.Ordinal));
        Assert.True(trace >= 0, $"no 'call trace:' block\n{report}");
        var frames = lines.Skip(trace + 1).Where(l => Regex.IsMatch(l, @"[A-Za-z_][\w.$:<>@]*\+0x[0-9a-fA-F]+")).ToList();
        Assert.True(frames.Count > 0, $"the call trace has no symbolised frame (name+0xoffset)\n{report}");
    }

    [Fact]
    public void Poweroff_exits_qemu_with_code_0()
    {
        using var m = QemuMachine.Start(new QemuOptions());
        m.WaitForBoot();
        m.SendLine("poweroff");
        Assert.Equal(0, m.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public void Reboot_with_no_reboot_exits_qemu_with_code_0()
    {
        using var m = QemuMachine.Start(new QemuOptions { NoReboot = true });
        m.WaitForBoot();
        m.SendLine("reboot");
        Assert.Equal(0, m.WaitForExit(TimeSpan.FromSeconds(30)));
    }
}
