using System.Globalization;
using System.Text.RegularExpressions;

namespace Percy.Harness;

/// <summary>A kernel log line: "[    0.012345] percy: message" (dmesg style).</summary>
/// <param name="Text">The whole line.</param>
/// <param name="SecondsField">The seconds field as printed, padding included (5 wide in Percy's format).</param>
/// <param name="Microseconds">The timestamp in microseconds.</param>
/// <param name="Message">Everything after "] ".</param>
public sealed record KernelLogLine(string Text, string SecondsField, long Microseconds, string Message)
{
    /// <summary>An error or warning: "error" or "warn" appears after the timestamp prefix.</summary>
    public bool IsErrorOrWarning =>
        Message.Contains("error", StringComparison.OrdinalIgnoreCase) ||
        Message.Contains("warn", StringComparison.OrdinalIgnoreCase);

    public override string ToString() => Text;
}

/// <summary>What a boot printed up to the ready line.</summary>
public sealed record BootInfo(
    IReadOnlyList<OutputLine> AllLines,
    IReadOnlyList<KernelLogLine> Log,
    KernelLogLine Ready,
    int CpusOnline,
    int CpusPossible,
    int BootMs,
    long ReadyAtMs,
    long PromptAtMs)
{
    /// <summary>The first log line (which should be the banner), or null.</summary>
    public KernelLogLine? FirstLog => Log.Count > 0 ? Log[0] : null;

    /// <summary>The banner text ("Percy v (build id) x86_64") if the first log line is the banner.</summary>
    public string? BannerText => FirstLog is { } f && KernelLog.Banner.Match(f.Message) is { Success: true } m ? m.Groups["text"].Value : null;
}

/// <summary>The kernel's output contract, as regular expressions and helpers.</summary>
public static class KernelLog
{
    /// <summary>"[    0.012345] message": seconds (padded), '.', 6-digit microseconds, "] ".</summary>
    public static readonly Regex Line = new(@"^\[(?<sec> *\d+)\.(?<usec>\d{6})\] (?<msg>.*)$", RegexOptions.CultureInvariant);

    /// <summary>Banner message: "percy: Percy &lt;version&gt; (build &lt;id&gt;) x86_64".</summary>
    public static readonly Regex Banner = new(@"^percy: (?<text>Percy (?<version>\S+) \(build (?<build>[^()\s]+)\) x86_64)$", RegexOptions.CultureInvariant);

    /// <summary>The banner text alone, as `version` prints it.</summary>
    public static readonly Regex BannerText = new(@"^Percy (?<version>\S+) \(build (?<build>[^()\s]+)\) x86_64$", RegexOptions.CultureInvariant);

    /// <summary>Ready message: "percy: ready cpus=N possible=N boot_ms=N".</summary>
    public static readonly Regex Ready = new(@"^percy: ready cpus=(?<cpus>\d+) possible=(?<possible>\d+) boot_ms=(?<ms>\d+)$", RegexOptions.CultureInvariant);

    public static bool TryParse(string text, out KernelLogLine line)
    {
        var m = Line.Match(text);
        if (!m.Success ||
            !long.TryParse(m.Groups["sec"].Value.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var sec) ||
            !long.TryParse(m.Groups["usec"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var usec) ||
            sec > long.MaxValue / 1_000_000 - 1)
        {
            line = null!;
            return false;
        }
        line = new KernelLogLine(text, m.Groups["sec"].Value, sec * 1_000_000 + usec, m.Groups["msg"].Value);
        return true;
    }

    /// <summary>The kernel log lines among <paramref name="lines"/>, in order.</summary>
    public static List<KernelLogLine> Parse(IEnumerable<string> lines)
    {
        var result = new List<KernelLogLine>();
        foreach (var l in lines)
            if (TryParse(l, out var k)) result.Add(k);
        return result;
    }

    /// <summary>
    /// Waits for the ready line and then the prompt, and returns what the boot printed.
    /// Fails (with the output) if either does not come within the run's time limit.
    /// </summary>
    public static BootInfo WaitForBoot(this QemuMachine machine, TimeSpan? timeout = null)
    {
        var ready = machine.WaitForLine(
            l => TryParse(l.Text, out var k) && Ready.IsMatch(k.Message),
            "the ready line \"[ ... ] percy: ready cpus=N possible=N boot_ms=N\"", timeout);
        var prompt = machine.WaitForPrompt(timeout);
        var all = machine.Lines;
        var log = Parse(all.Take(ready.Index + 1).Select(l => l.Text));
        TryParse(ready.Text, out var readyLog);
        var m = Ready.Match(readyLog.Message);
        return new BootInfo(
            all.Take(ready.Index + 1).ToList(),
            log,
            readyLog,
            int.TryParse(m.Groups["cpus"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var cpus) ? cpus : -1,
            int.TryParse(m.Groups["possible"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var possible) ? possible : -1,
            int.TryParse(m.Groups["ms"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms) ? ms : -1,
            ready.TimestampMs,
            prompt.TimestampMs);
    }
}
