using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>The kernel's console contract, as assertions shared by the QEMU tests.</summary>
public static class KernelContract
{
    /// <summary>Every command the shell must list in `help`.</summary>
    public static readonly string[] Commands =
        { "help", "version", "cmdline", "log", "mem", "selftest", "panic", "poweroff", "reboot" };

    public static readonly Regex UnknownCommand =
        new(@"^shell: error: unknown command '(?<cmd>.*)' \(type 'help'\)$", RegexOptions.CultureInvariant);

    public static readonly Regex HelpLine = new(@"^\s*(?<name>\S+)\s+(?<desc>\S.*)$", RegexOptions.CultureInvariant);

    /// <summary>isa-debug-exit: the kernel writes 0x10 to port 0xf4 on panic; QEMU exits (0x10 &lt;&lt; 1) | 1.</summary>
    public const int PanicExitCode = 33;

    /// <summary>
    /// A `cpus` row: logical id, APIC id, state, per-CPU unit base, stack range ("-" for a
    /// CPU that never started, so has no stack).
    /// </summary>
    public static readonly Regex CpuRow =
        new(@"^\s*(?<cpu>\d+)\s+(?<apic>\d+)\s+(?<state>\w+)\s+0x(?<percpu>[0-9a-f]+)\s+(0x(?<lo>[0-9a-f]+)-0x(?<hi>[0-9a-f]+)|-)$", RegexOptions.CultureInvariant);

    /// <summary>`cpus`'s first line: the counts and the local APIC mode.</summary>
    public static readonly Regex CpusSummary =
        new(@"^(?<online>\d+) online, (?<present>\d+) present, (?<possible>\d+) possible, nr_cpu_ids=\d+, (?<mode>xAPIC|x2APIC), this cpu 0$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Runs `cpus` and asserts its summary line and one row per possible CPU, numbered
    /// 0..possible-1; returns both.
    /// </summary>
    public static (Match Summary, List<Match> Rows) AssertCpuTable(QemuMachine m, int possible)
    {
        var cpus = m.RunCommand("cpus", TimeSpan.FromSeconds(30));
        var summary = cpus.Select(l => CpusSummary.Match(l)).FirstOrDefault(x => x.Success);
        Assert.True(summary is not null, $"`cpus` printed no summary line:\n{cpus.Text}");
        var rows = cpus.Select(l => CpuRow.Match(l)).Where(x => x.Success).ToList();
        Assert.True(rows.Count == possible, $"`cpus` shows {rows.Count} CPU rows, expected {possible}:\n{cpus.Text}");
        Assert.Equal(Enumerable.Range(0, possible).Select(i => i.ToString()), rows.Select(r => r.Groups["cpu"].Value));
        return (summary!, rows);
    }

    /// <summary>"[    0.123456] " removed if present.</summary>
    public static string StripLogPrefix(string line) =>
        KernelLog.TryParse(line, out var l) ? l.Message : line;

    /// <summary>Asserts the boot reached the ready line and prompt with the contract's banner and counts.</summary>
    public static void AssertGoodBoot(QemuMachine m, BootInfo boot, int? expectedCpus)
    {
        var first = boot.FirstLog;
        Assert.True(first is not null, $"no kernel log line before the ready line\n{m.Tail()}");
        Assert.True(KernelLog.Banner.IsMatch(first!.Message),
            $"the first log line is not the banner 'percy: Percy <version> (build <id>) x86_64':\n  {first.Text}\n{m.Tail()}");
        if (expectedCpus is int cpus)
        {
            Assert.True(boot.CpusOnline == cpus, $"ready line reports cpus={boot.CpusOnline}, QEMU has -smp {cpus}: {boot.Ready.Text}");
            Assert.True(boot.CpusPossible >= boot.CpusOnline, $"possible < online: {boot.Ready.Text}");
        }
        else
        {
            Assert.True(boot.CpusOnline >= 1 && boot.CpusPossible >= boot.CpusOnline, $"bad cpu counts: {boot.Ready.Text}");
        }
        // The prompt follows the ready line directly.
        var readyIndex = boot.AllLines.Count - 1;
        var prompt = m.Prompts.FirstOrDefault(p => p.LineIndex > readyIndex);
        Assert.True(prompt is not null && prompt.LineIndex == readyIndex + 1 && prompt.Column == 0,
            $"the prompt does not come right after the ready line\n{m.Tail()}");
    }

    /// <summary>`version` prints one line, the banner text.</summary>
    public static void AssertVersion(QemuMachine m, BootInfo boot)
    {
        var v = m.RunCommand("version");
        Assert.True(v.Count == 1, $"version printed {v.Count} lines:\n{v.Text}");
        Assert.Matches(KernelLog.BannerText, v[0]);
        if (boot.BannerText is { } banner) Assert.Equal(banner, v[0]);
    }

    /// <summary>
    /// Sends garbage and Enter, then checks the shell still works: a prompt comes back and
    /// `version` prints the banner. Returns the lines printed in between (echo lines included).
    /// </summary>
    public static List<OutputLine> SendGarbageThenCheckAlive(QemuMachine m, string garbage, TimeSpan? timeout = null)
    {
        var before = m.Lines.Count;
        m.Send(garbage);
        // Let the kernel work through it, so the Enter and `version` below cannot be lost
        // to a full input ring on a slow (loaded, emulated) machine.
        m.WaitForQuiet(TimeSpan.FromMilliseconds(500));
        m.Send("\r");
        var v = m.RunCommand("version", timeout ?? TimeSpan.FromSeconds(15));
        Assert.True(v.Count == 1 && KernelLog.BannerText.IsMatch(v[0]),
            $"after the garbage, `version` printed:\n{v.Text}\n{m.Tail()}");
        return m.Lines.Skip(before).TakeWhile(l => l.Index < v.Echo.Index).ToList();
    }

    /// <summary>Lines that are neither echoes (start with the prompt) nor blank.</summary>
    public static List<string> Printed(IEnumerable<OutputLine> lines, string prompt = "percy> ") =>
        lines.Select(l => l.Text).Where(t => !t.Contains(prompt, StringComparison.Ordinal) && t.Trim().Length > 0).ToList();

    /// <summary>A panic line: "panic: ..." (a log timestamp before it is tolerated).</summary>
    public static bool IsPanicLine(string line) => StripLogPrefix(line).StartsWith("panic:", StringComparison.Ordinal);
}
