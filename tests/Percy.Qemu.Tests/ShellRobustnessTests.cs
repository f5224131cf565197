using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// Garbage at the shell: the prompt comes back and `version` still works. One boot per
/// kind of garbage, so a crash is pinned on the input that caused it. Garbage is typed at
/// the rate of a 115200-baud line (QemuMachine.Send), except in the flood test.
/// </summary>
public class ShellRobustnessTests
{
    private static (QemuMachine, BootInfo) Boot()
    {
        var m = QemuMachine.Start(new QemuOptions());
        try
        {
            return (m, m.WaitForBoot());
        }
        catch
        {
            m.Dispose();
            throw;
        }
    }

    private static void AssertNoPanic(QemuMachine m) =>
        Assert.False(m.Lines.Any(l => KernelContract.IsPanicLine(l.Text)), $"the kernel panicked\n{m.Tail()}");

    [Fact]
    public void Random_bytes()
    {
        var (m, _) = Boot();
        using var _m = m;
        var rng = new Random(20240601);
        for (int round = 0; round < 4; round++)
        {
            var bytes = new char[500];
            for (int i = 0; i < bytes.Length; i++) bytes[i] = (char)rng.Next(0, 256);
            KernelContract.SendGarbageThenCheckAlive(m, new string(bytes));
        }
        AssertNoPanic(m);
    }

    /// <summary>
    /// 4 KB of random bytes at once, faster than any serial line: input may be lost (the
    /// kernel's input ring drops bytes when full, as a UART would), but once the flood has
    /// been worked through the shell must keep reading.
    /// </summary>
    [Fact]
    public void Input_flood_does_not_stall_the_shell()
    {
        var (m, _) = Boot();
        using var _m = m;
        var rng = new Random(20240601);
        var bytes = new char[4096];
        for (int i = 0; i < bytes.Length; i++) bytes[i] = (char)rng.Next(0, 256);
        m.SendUnpaced(new string(bytes));
        m.WaitForQuiet(TimeSpan.FromSeconds(1)); // bytes sent while the ring is full are lost
        // Whatever survived the flood, a fresh line and `version` must work. The '~' ends
        // any escape sequence the flood left open (that case has its own test below).
        KernelContract.SendGarbageThenCheckAlive(m, "~");
        AssertNoPanic(m);
    }

    /// <summary>An escape sequence cut short by Enter: Enter must still end the line (ECMA-48 executes controls inside a sequence).</summary>
    [Theory]
    [InlineData("\u001b")]
    [InlineData("\u001b[")]
    [InlineData("\u001b[1;2")]
    [InlineData("\u001bO")]
    public void Unfinished_escape_sequence_then_enter(string escape)
    {
        var (m, _) = Boot();
        using var _m = m;
        KernelContract.SendGarbageThenCheckAlive(m, escape);
        AssertNoPanic(m);
    }

    [Fact]
    public void Control_characters()
    {
        var (m, _) = Boot();
        using var _m = m;
        var controls = new string(Enumerable.Range(0, 32).Where(c => c is not ('\r' or '\n')).Select(c => (char)c).Append('\u007f').ToArray());
        var between = KernelContract.SendGarbageThenCheckAlive(m, controls);
        // Control characters alone give an empty line (no output) or one error line.
        var printed = KernelContract.Printed(between);
        Assert.True(printed.Count <= 1 && printed.All(l => l.StartsWith("shell: error: ", StringComparison.Ordinal)),
            "unexpected output for a line of control characters:\n" + string.Join('\n', printed));
        // Escape sequences (arrow keys and the like) and high bytes mixed into a word.
        KernelContract.SendGarbageThenCheckAlive(m, "\u001b[A\u001b[B\u001b[C\u001b[D\u001bOA\u001b[3~ver\u00ff\u0080sion");
        AssertNoPanic(m);
    }

    [Fact]
    public void Ten_thousand_character_line()
    {
        var (m, _) = Boot();
        using var _m = m;
        var between = KernelContract.SendGarbageThenCheckAlive(m, new string('a', 10_000));
        var printed = KernelContract.Printed(between).Where(l => !l.StartsWith("aaaa", StringComparison.Ordinal)).ToList();
        Assert.True(printed.Count == 1 && printed[0].StartsWith("shell: error: ", StringComparison.Ordinal),
            "a 10,000-character line should give one error line, got:\n" + string.Join('\n', printed.Select(QemuMachine.Printable)));
        // A long line that starts with a real command: whatever it prints, the shell survives.
        KernelContract.SendGarbageThenCheckAlive(m, "version" + new string(' ', 3000) + "x" + new string('b', 7000));
        AssertNoPanic(m);
    }

    [Fact]
    public void Backspaces_past_the_start_of_the_line()
    {
        var (m, _) = Boot();
        using var _m = m;
        var o = m.RunTyped(new string('\u007f', 50) + new string('\b', 50) + "version", "version", TimeSpan.FromSeconds(20));
        Assert.True(o.Count == 1 && KernelLog.BannerText.IsMatch(o[0]), $"`version` after 100 backspaces printed:\n{o.Text}");
        Assert.Equal("percy> version", o.Echo.Text.TrimEnd()); // the prompt was not erased
        var edited = m.RunTyped("ab" + new string('\u007f', 10) + "version", "version", TimeSpan.FromSeconds(20));
        Assert.Single(edited);
        AssertNoPanic(m);
    }

    [Fact]
    public void Unknown_commands_in_a_burst()
    {
        var (m, _) = Boot();
        using var _m = m;
        var burst = string.Join("\r", Enumerable.Range(0, 20).Select(i => $"nosuch{i}"));
        var between = KernelContract.SendGarbageThenCheckAlive(m, burst);
        var errors = KernelContract.Printed(between);
        Assert.Equal(20, errors.Count(l => KernelContract.UnknownCommand.IsMatch(l)));
        AssertNoPanic(m);
    }
}
