using System.Globalization;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>One timed boot: seconds from QEMU's start to the first kernel log line, to `percy: ready` and to the prompt, and the kernel's own boot_ms.</summary>
internal sealed record BootSample(double FirstLineSeconds, double ReadySeconds, double PromptSeconds, int BootMs);

/// <summary>What one shell command printed between its echo and the next prompt, and when.</summary>
internal sealed record ShellOutput(string Command, double SentSeconds, IReadOnlyList<SerialLine> Lines, double PromptSeconds)
{
    /// <summary>The first line matching <paramref name="pattern"/>, or null.</summary>
    public Match? Find(Regex pattern) => Lines.Select(l => pattern.Match(l.Text)).FirstOrDefault(m => m.Success);

    public string Text => string.Join('\n', Lines.Select(l => l.Text));
}

/// <summary>
/// Percy booted in QEMU with its shell on the serial console (<see cref="SerialSession"/>):
/// boot it, type commands and read what they print, then `poweroff` (QEMU must exit 0).
/// </summary>
internal sealed partial class PercyGuest : IAsyncDisposable
{
    public static readonly TimeSpan DefaultHardTimeout = TimeSpan.FromSeconds(60);

    private const string Prompt = "percy> ";
    private const string ReadyMarker = "percy: ready";
    private const string PowerOff = "poweroff";
    private const string Enter = "\r";

    private readonly SerialSession _session;
    private int _next;

    private PercyGuest(SerialSession session, BootSample boot, int next, string bootLog)
    {
        _session = session;
        Boot = boot;
        _next = next;
        BootLog = bootLog;
    }

    public BootSample Boot { get; }

    /// <summary>The kernel's log up to the prompt.</summary>
    public string BootLog { get; }

    /// <summary>Starts QEMU and waits for the prompt after `percy: ready`.</summary>
    public static async Task<PercyGuest> BootAsync(IReadOnlyList<string> arguments, string label, CancellationToken cancellationToken, TimeSpan? hardTimeout = null)
    {
        SerialSession session = SerialSession.Start(label, arguments, Prompt, hardTimeout ?? DefaultHardTimeout, cancellationToken);
        try
        {
            SerialLine first = await session.WaitForLineAsync(0, FirstLinePattern().IsMatch, "the first kernel line");
            SerialLine ready = await session.WaitForLineAsync(first.Index, l => l.Contains(ReadyMarker, StringComparison.Ordinal), $"'{ReadyMarker}'");
            (int promptLine, double promptSeconds) = await session.WaitForPromptAsync(ready.Index, "the prompt");
            Match bootMs = BootMsPattern().Match(ready.Text);
            if (!bootMs.Success)
            {
                throw session.Failure($"the '{ReadyMarker}' line has no boot_ms=N");
            }

            var sample = new BootSample(
                Math.Round(first.Seconds, 6),
                Math.Round(ready.Seconds, 6),
                Math.Round(promptSeconds, 6),
                int.Parse(bootMs.Groups[1].Value, CultureInfo.InvariantCulture));
            string log = string.Join('\n', session.Lines.Skip(first.Index).Select(l => l.Text));
            return new PercyGuest(session, sample, promptLine, log);
        }
        catch
        {
            await session.DisposeAsync();
            throw;
        }
    }

    /// <summary>Types <paramref name="command"/> and Enter; returns what it printed before the next prompt.</summary>
    public async Task<ShellOutput> RunAsync(string command)
    {
        double sent = await _session.SendAsync(command + Enter);
        string echo = Prompt + command;
        SerialLine echoed = await _session.WaitForLineAsync(_next, l => l.EndsWith(echo, StringComparison.Ordinal), $"the echo of '{command}'");
        (int promptLine, double promptSeconds) = await _session.WaitForPromptAsync(echoed.Index, $"the prompt after '{command}'");
        IReadOnlyList<SerialLine> lines = [.. _session.Lines.Skip(echoed.Index + 1).Take(promptLine - echoed.Index - 1)];
        _next = promptLine;
        return new ShellOutput(command, sent, lines, promptSeconds);
    }

    /// <summary>Like <see cref="RunAsync"/>, but the output must contain <paramref name="expected"/>; the failure names the command.</summary>
    public async Task<ShellOutput> RunExpectingAsync(string command, Regex expected)
    {
        ShellOutput output = await RunAsync(command);
        if (output.Find(expected) is null)
        {
            throw _session.Failure($"`{command}` printed no line matching /{expected}/ (./build.sh run and type it to see why)");
        }

        return output;
    }

    /// <summary>Types poweroff and waits for QEMU to exit 0.</summary>
    public async Task PowerOffAsync()
    {
        await _session.SendAsync(PowerOff + Enter);
        int exitCode = await _session.WaitForExitAsync();
        if (_session.TimedOut)
        {
            throw _session.Failure($"QEMU (pid {_session.Pid}) did not power off within {_session.HardTimeout.TotalSeconds:0} s and was killed");
        }

        if (exitCode != ExitCodes.Success)
        {
            throw _session.Failure($"QEMU exited with {exitCode} after poweroff instead of 0");
        }
    }

    public ValueTask DisposeAsync() => _session.DisposeAsync();

    [GeneratedRegex(@"^\[\s*\d+\.\d+\] percy: Percy ")]
    private static partial Regex FirstLinePattern();

    [GeneratedRegex(@"\bboot_ms=(\d+)")]
    private static partial Regex BootMsPattern();
}

/// <summary>A boot and nothing else: boot, note the times, power off.</summary>
internal static class BenchBoot
{
    public static async Task<BootSample> RunAsync(IReadOnlyList<string> arguments, string label, CancellationToken cancellationToken)
    {
        await using PercyGuest guest = await PercyGuest.BootAsync(arguments, label, cancellationToken);
        await guest.PowerOffAsync();
        return guest.Boot;
    }
}
