using System.Diagnostics;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// Builds a GRUB-only ISO (no kernel: GRUB drops to its own "grub> " shell on the serial
/// console) so the harness can be tested in QEMU independently of the kernel.
/// </summary>
public sealed class GrubShellIso : IDisposable
{
    public string Path { get; }
    private readonly string _dir;

    public GrubShellIso()
    {
        _dir = System.IO.Path.Combine(PercyIso.WorkDirectory, $"grub-shell-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var grubDir = System.IO.Path.Combine(_dir, "root", "boot", "grub");
        Directory.CreateDirectory(grubDir);
        // No menu entry: GRUB starts its command line. The function is never called; it
        // only gives the cmdline-variant code a "multiboot2" line to rewrite.
        File.WriteAllText(System.IO.Path.Combine(grubDir, "grub.cfg"),
            "serial --unit=0 --speed=115200\n" +
            "terminal_input serial\n" +
            "terminal_output serial\n" +
            "function never_called {\n" +
            "  multiboot2 /boot/none.elf\n" +
            "}\n" +
            "echo harness-selftest-cfg-loaded\n" +
            "cat /boot/grub/grub.cfg\n" +
            "echo harness-selftest-cfg-end\n");
        Path = System.IO.Path.Combine(_dir, "grub-shell.iso");
        var psi = new ProcessStartInfo("grub-mkrescue") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        psi.ArgumentList.Add("-o");
        psi.ArgumentList.Add(Path);
        psi.ArgumentList.Add(System.IO.Path.Combine(_dir, "root"));
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEndAsync();
        var output = p.StandardOutput.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(true); throw new TimeoutException("grub-mkrescue hung"); }
        if (p.ExitCode != 0 || !File.Exists(Path))
            throw new InvalidOperationException($"grub-mkrescue failed ({p.ExitCode}): {output.Result}{err.Result}");
    }

    public void Dispose()
    {
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { }
    }
}

/// <summary>
/// The harness against GRUB's shell in QEMU: input, echo, prompts, exit codes, timeouts,
/// variants. Typing is tested under SeaBIOS only: GRUB's EFI serial input drops characters
/// (even typed 20 ms apart), which is GRUB's problem, not the harness's; under OVMF only
/// booting and output are checked.
/// </summary>
public class HarnessSelfTests : IClassFixture<GrubShellIso>
{
    private readonly GrubShellIso _iso;

    public HarnessSelfTests(GrubShellIso iso) => _iso = iso;

    private QemuOptions Grub(bool uefi = false, QemuMachineType machine = QemuMachineType.Pc) => new()
    {
        IsoPath = _iso.Path,
        Prompt = "grub> ",
        Uefi = uefi,
        Machine = machine,
        Smp = 1,
        Timeout = TimeSpan.FromSeconds(uefi ? 90 : 60),
    };

    [Theory]
    [InlineData(QemuMachineType.Pc)]
    [InlineData(QemuMachineType.Q35)]
    public void Drives_a_serial_shell(QemuMachineType machine)
    {
        using var m = QemuMachine.Start(Grub(uefi: false, machine));
        m.WaitFor("harness-selftest-cfg-loaded");
        m.WaitForPrompt();

        var echo = m.RunCommand("echo hello from the harness");
        Assert.Equal(new[] { "hello from the harness" }, echo.ToArray());
        Assert.EndsWith("grub> echo hello from the harness", echo.Echo.Text);

        // Output lines are timestamped in order.
        var lines = m.Lines;
        Assert.True(lines.Zip(lines.Skip(1)).All(p => p.First.TimestampMs <= p.Second.TimestampMs));

        // Line editing through the terminal model (GRUB redraws with cursor positioning).
        var edited = m.RunTyped("echo abx\bc", "echo abc");
        Assert.Equal(new[] { "abc" }, edited.ToArray());

        // An empty line gives an empty output and a new prompt.
        Assert.Empty(m.RunCommand(""));

        // isa-debug-exit: QEMU exits with (0x10 << 1) | 1 = 33.
        m.RunCommand("insmod iorw");
        m.SendLine("outb 0xf4 0x10");
        Assert.Equal(33, m.WaitForExit(TimeSpan.FromSeconds(20)));
        Assert.True(m.HasExited);
    }

    [Fact]
    public void Boots_under_uefi_and_reads_output()
    {
        using var m = QemuMachine.Start(Grub(uefi: true, QemuMachineType.Q35));
        m.WaitFor("harness-selftest-cfg-loaded");
        m.WaitFor("harness-selftest-cfg-end");
        m.WaitForPrompt();
    }

    [Fact]
    public void Cmdline_variant_rewrites_grub_cfg_and_still_boots_bios_and_uefi()
    {
        var variant = PercyIso.WithCmdline("foo=bar quiet=0", _iso.Path);
        Assert.NotEqual(_iso.Path, variant);
        Assert.Same(variant, PercyIso.WithCmdline("foo=bar quiet=0", _iso.Path)); // cached

        foreach (var uefi in new[] { false, true })
        {
            // grub.cfg prints itself when it is loaded.
            using var m = QemuMachine.Start(Grub(uefi) with { IsoPath = variant });
            m.WaitFor("harness-selftest-cfg-loaded");
            m.WaitFor("  multiboot2 /boot/none.elf foo=bar quiet=0");
            m.WaitFor("harness-selftest-cfg-end");
            m.WaitForPrompt();
        }
    }

    [Fact]
    public void Hard_timeout_kills_qemu_and_reports_the_output()
    {
        using var m = QemuMachine.Start(Grub() with { Timeout = TimeSpan.FromSeconds(6) });
        m.WaitForPrompt();
        var e = Assert.Throws<QemuTimeoutException>(() => m.WaitFor("this text never appears"));
        Assert.Contains("hard timeout", e.Message);
        Assert.Contains("last 40 lines of output", e.Message);
        Assert.Contains("grub> ", e.Message);
        Assert.True(m.HasExited);
    }

    [Fact]
    public void A_wait_timeout_shorter_than_the_hard_limit_fails_only_that_wait()
    {
        using var m = QemuMachine.Start(Grub());
        m.WaitForPrompt();
        var e = Assert.Throws<QemuTimeoutException>(() => m.WaitFor("never", TimeSpan.FromSeconds(1)));
        Assert.Contains("timed out after 1 s waiting for a line containing \"never\"", e.Message);
        Assert.False(m.HasExited);
        Assert.Equal(new[] { "still here" }, m.RunCommand("echo still here").ToArray());
    }

    [Fact]
    public void Waiting_on_an_exited_qemu_fails_at_once_with_its_exit_code()
    {
        using var m = QemuMachine.Start(Grub());
        m.WaitForPrompt();
        m.RunCommand("insmod iorw");
        m.SendLine("outb 0xf4 0x01");
        var e = Assert.Throws<QemuException>(() => m.WaitFor("never"));
        Assert.Contains("QEMU exited with code 3", e.Message);
    }

    [Fact]
    public void Dispose_kills_qemu_by_pid()
    {
        var m = QemuMachine.Start(Grub());
        m.WaitForPrompt();
        var pid = m.ProcessId;
        m.Dispose();
        Assert.Throws<ArgumentException>(() => Process.GetProcessById(pid)); // gone
        m.Dispose(); // idempotent
    }
}
