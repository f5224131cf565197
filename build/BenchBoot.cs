using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>One timed boot: seconds from QEMU's start to the first kernel log line and to the prompt, and the kernel's own boot_ms.</summary>
internal sealed record BootSample(double FirstLineSeconds, double PromptSeconds, int BootMs);

/// <summary>
/// Boots Percy once in QEMU with the serial console on pipes and times it: the clock starts
/// just before QEMU does; a line counts when its newline arrives, the prompt when its last
/// character does. At the prompt it types <c>poweroff</c> and waits for QEMU to exit 0.
/// QEMU is killed (by its own PID, with its process tree) after <see cref="HardTimeout"/>.
/// </summary>
internal static partial class BenchBoot
{
    public static readonly TimeSpan HardTimeout = TimeSpan.FromSeconds(60);

    private const string Prompt = "percy> ";
    private const string ReadyMarker = "percy: ready";
    private const string PowerOff = "poweroff\r";
    private const int ReadBufferSize = 4096;

    // Lines kept for the message when a boot goes wrong.
    private const int TailLines = 30;

    public static async Task<BootSample> RunAsync(IReadOnlyList<string> arguments, string label, CancellationToken cancellationToken)
    {
        using var qemu = new Process { StartInfo = BenchShell.PipedQemu(arguments) };
        var clock = new Stopwatch();
        clock.Start();
        try
        {
            qemu.Start();
        }
        catch (Win32Exception)
        {
            throw new BuildException($"bench: {QemuRunner.QemuBinary} was not found on PATH; run ./build.sh deps");
        }

        int pid = qemu.Id;

        // Timeout and Ctrl-C both end in a kill; the kill closes stdout, which ends the read loop.
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(HardTimeout);
        using CancellationTokenRegistration killOnLimit = limit.Token.Register(() => Kill(qemu));

        var scan = new BootScan();
        Task<string> stderr = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            Stream stdout = qemu.StandardOutput.BaseStream;
            var buffer = new byte[ReadBufferSize];
            bool poweroffSent = false;
            int count;
            while ((count = await stdout.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                scan.Feed(Encoding.Latin1.GetString(buffer, 0, count), clock.Elapsed.TotalSeconds);
                if (scan.PromptSeconds is not null && !poweroffSent)
                {
                    poweroffSent = true;
                    await SendAsync(qemu, PowerOff);
                }
            }

            await qemu.WaitForExitAsync(CancellationToken.None);
        }
        finally
        {
            Kill(qemu);
            await qemu.WaitForExitAsync(CancellationToken.None);
        }

        cancellationToken.ThrowIfCancellationRequested();
        string output = scan.Tail() + "\n" + await stderr;
        if (limit.IsCancellationRequested)
        {
            throw new BuildException($"bench: {label}: QEMU (pid {pid}) did not power off within {HardTimeout.TotalSeconds:0} s and was killed; its last output is above", output);
        }

        if (scan.FirstLineSeconds is not double firstLine || scan.PromptSeconds is not double prompt)
        {
            throw new BuildException($"bench: {label}: QEMU exited ({qemu.ExitCode}) before the kernel showed its prompt; its last output is above (./build.sh run boots it by hand)", output);
        }

        if (scan.BootMs is not int bootMs)
        {
            throw new BuildException($"bench: {label}: the '{ReadyMarker}' line has no boot_ms=N; its last output is above", output);
        }

        if (qemu.ExitCode != ExitCodes.Success)
        {
            throw new BuildException($"bench: {label}: QEMU exited with {qemu.ExitCode} after poweroff instead of 0; its last output is above", output);
        }

        // Microseconds are more than the clock and the pipes can resolve.
        return new BootSample(Math.Round(firstLine, 6), Math.Round(prompt, 6), bootMs);
    }

    private static async Task SendAsync(Process qemu, string text)
    {
        try
        {
            await qemu.StandardInput.WriteAsync(text);
            await qemu.StandardInput.FlushAsync();
        }
        catch (IOException)
        {
            // QEMU has gone; the read loop sees the end of its output and the caller reports it.
        }
    }

    // Only ever this QEMU, by its own PID: other QEMUs on the host (tests, people) are not ours.
    private static void Kill(Process qemu)
    {
        try
        {
            if (!qemu.HasExited)
            {
                qemu.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    /// <summary>Follows the serial output and notes when the lines and the prompt the benchmark times arrive.</summary>
    private sealed partial class BootScan
    {
        private readonly StringBuilder _line = new();
        private readonly Queue<string> _tail = new();
        private bool _ready;

        public double? FirstLineSeconds { get; private set; }

        public double? PromptSeconds { get; private set; }

        public int? BootMs { get; private set; }

        public void Feed(string chunk, double seconds)
        {
            foreach (char c in chunk)
            {
                if (c == '\n')
                {
                    CompleteLine(seconds);
                    continue;
                }

                _line.Append(c);
                if (_ready && PromptSeconds is null && EndsWithPrompt())
                {
                    PromptSeconds = seconds;
                }
            }
        }

        public string Tail() => string.Join('\n', _tail.Append(BenchShell.Clean(_line.ToString())));

        private void CompleteLine(double seconds)
        {
            string text = BenchShell.Clean(_line.ToString());
            _line.Clear();
            _tail.Enqueue(text);
            if (_tail.Count > TailLines)
            {
                _tail.Dequeue();
            }

            if (FirstLineSeconds is null && FirstLinePattern().IsMatch(text))
            {
                FirstLineSeconds = seconds;
            }

            if (!_ready && text.Contains(ReadyMarker, StringComparison.Ordinal))
            {
                _ready = true;
                Match bootMs = BootMsPattern().Match(text);
                BootMs = bootMs.Success ? int.Parse(bootMs.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : null;
            }
        }

        private bool EndsWithPrompt()
        {
            if (_line.Length < Prompt.Length)
            {
                return false;
            }

            for (int i = 0; i < Prompt.Length; i++)
            {
                if (_line[_line.Length - Prompt.Length + i] != Prompt[i])
                {
                    return false;
                }
            }

            return true;
        }

        [GeneratedRegex(@"^\[\s*\d+\.\d+\] percy: Percy ")]
        private static partial Regex FirstLinePattern();

        [GeneratedRegex(@"\bboot_ms=(\d+)")]
        private static partial Regex BootMsPattern();
    }
}
