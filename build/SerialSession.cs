using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>One complete line of a guest's serial console, with the host time its newline arrived.</summary>
internal sealed record SerialLine(int Index, string Text, double Seconds);

/// <summary>
/// A QEMU with its serial console on pipes, as the benchmarks drive it (Percy's shell and
/// Linux's init alike). The clock starts just before QEMU does; a line is stamped when its
/// newline arrives, a prompt when its last character does. Escape sequences and '\r' are
/// removed from lines. QEMU is killed, by its own PID with its process tree, when the hard
/// timeout passes, on Ctrl-C, and on dispose; never any other process.
/// </summary>
internal sealed partial class SerialSession : IAsyncDisposable
{
    private const int ReadBufferSize = 4096;

    // Lines kept for the message when a run goes wrong.
    private const int TailLines = 30;

    // A 16550's receive FIFO: input is written in chunks of this size, paced like a serial
    // line, so a long command cannot overrun the guest's UART.
    private const int InputChunk = 16;
    private static readonly TimeSpan s_inputChunkGap = TimeSpan.FromMilliseconds(2);

    private readonly Process _qemu;
    private readonly Stopwatch _clock;
    private readonly CancellationTokenSource _limit;
    private readonly CancellationTokenRegistration _killOnLimit;
    private readonly Task _reader;
    private readonly Task<string> _stderr;
    private readonly Lock _gate = new();
    private readonly List<SerialLine> _lines = [];
    private readonly List<(int LineIndex, double Seconds)> _prompts = [];
    private readonly StringBuilder _partial = new();
    private readonly string? _prompt;
    private readonly CancellationToken _cancellation;
    private TaskCompletionSource _changed = NewSignal();
    private bool _ended;

    private SerialSession(Process qemu, Stopwatch clock, string label, string? prompt, TimeSpan hardTimeout, CancellationToken cancellationToken)
    {
        _qemu = qemu;
        _clock = clock;
        _prompt = prompt;
        _cancellation = cancellationToken;
        Label = label;
        HardTimeout = hardTimeout;
        _limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _limit.CancelAfter(hardTimeout);
        _killOnLimit = _limit.Token.Register(Kill);
        _stderr = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
        _reader = Task.Run(ReadLoopAsync, CancellationToken.None);
    }

    public string Label { get; }

    public TimeSpan HardTimeout { get; }

    public int Pid => _qemu.Id;

    /// <summary>Seconds since just before QEMU started.</summary>
    public double Now => _clock.Elapsed.TotalSeconds;

    /// <summary>Whether the hard timeout ended QEMU.</summary>
    public bool TimedOut => _limit.IsCancellationRequested && !_cancellation.IsCancellationRequested;

    /// <summary>
    /// Starts <see cref="QemuRunner.QemuBinary"/> with <paramref name="arguments"/>.
    /// <paramref name="prompt"/>, when given, is the text a shell prompt ends with (it has no newline).
    /// </summary>
    public static SerialSession Start(string label, IReadOnlyList<string> arguments, string? prompt, TimeSpan hardTimeout, CancellationToken cancellationToken)
    {
        var startInfo = new ProcessStartInfo(QemuRunner.QemuBinary)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var qemu = new Process { StartInfo = startInfo };
        var clock = Stopwatch.StartNew();
        try
        {
            qemu.Start();
        }
        catch (Win32Exception)
        {
            qemu.Dispose();
            throw new BuildException($"bench: {QemuRunner.QemuBinary} was not found on PATH; run ./build.sh deps");
        }

        return new SerialSession(qemu, clock, label, prompt, hardTimeout, cancellationToken);
    }

    /// <summary>Every complete line so far.</summary>
    public IReadOnlyList<SerialLine> Lines
    {
        get
        {
            lock (_gate)
            {
                return [.. _lines];
            }
        }
    }

    /// <summary>The first line at or after <paramref name="fromIndex"/> that <paramref name="match"/> accepts.</summary>
    public async Task<SerialLine> WaitForLineAsync(int fromIndex, Func<string, bool> match, string what)
    {
        SerialLine? found = null;
        await WaitUntilAsync(() =>
        {
            for (int i = fromIndex; i < _lines.Count && found is null; i++)
            {
                if (match(_lines[i].Text))
                {
                    found = _lines[i];
                }
            }

            return found is not null;
        }, what);
        return found!;
    }

    /// <summary>Host seconds when the first prompt after line <paramref name="afterLineIndex"/> appeared; its line index.</summary>
    public async Task<(int LineIndex, double Seconds)> WaitForPromptAsync(int afterLineIndex, string what)
    {
        (int, double)? found = null;
        await WaitUntilAsync(() =>
        {
            foreach ((int lineIndex, double seconds) in _prompts)
            {
                if (lineIndex > afterLineIndex)
                {
                    found = (lineIndex, seconds);
                    return true;
                }
            }

            return false;
        }, what);
        return found!.Value;
    }

    /// <summary>Types <paramref name="text"/> in FIFO-sized chunks; returns the host seconds when the last byte was written.</summary>
    public async Task<double> SendAsync(string text)
    {
        byte[] bytes = Encoding.Latin1.GetBytes(text);
        Stream stdin = _qemu.StandardInput.BaseStream;
        try
        {
            for (int offset = 0; offset < bytes.Length; offset += InputChunk)
            {
                if (offset > 0)
                {
                    await Task.Delay(s_inputChunkGap);
                }

                await stdin.WriteAsync(bytes.AsMemory(offset, Math.Min(InputChunk, bytes.Length - offset)));
                await stdin.FlushAsync();
            }
        }
        catch (IOException)
        {
            // QEMU has gone; the next wait sees the end of its output and reports it.
        }

        return Now;
    }

    /// <summary>Waits until QEMU exits (or the hard timeout kills it) and returns its exit code.</summary>
    public async Task<int> WaitForExitAsync()
    {
        await _reader;
        await _qemu.WaitForExitAsync(CancellationToken.None);
        return _qemu.ExitCode;
    }

    /// <summary>The last lines (and the partial one) and QEMU's stderr, for error messages.</summary>
    public string Tail()
    {
        lock (_gate)
        {
            IEnumerable<string> last = _lines.Skip(Math.Max(0, _lines.Count - TailLines)).Select(l => l.Text);
            string stderr = _stderr.IsCompletedSuccessfully ? _stderr.Result : string.Empty;
            return string.Join('\n', last.Append(Clean(_partial.ToString()))) + "\n" + stderr;
        }
    }

    /// <summary>A <see cref="BuildException"/> about this run, with its last output attached.</summary>
    public BuildException Failure(string message) => new($"bench: {Label}: {message}; its last output is above", Tail());

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _reader;
        await _qemu.WaitForExitAsync(CancellationToken.None);
        await _killOnLimit.DisposeAsync();
        _limit.Dispose();
        _qemu.Dispose();
    }

    private async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        while (true)
        {
            Task changed;
            bool ended;
            lock (_gate)
            {
                if (condition())
                {
                    return;
                }

                changed = _changed.Task;
                ended = _ended;
            }

            if (ended)
            {
                _cancellation.ThrowIfCancellationRequested();
                throw Failure(TimedOut
                    ? $"QEMU (pid {Pid}) was killed after {HardTimeout.TotalSeconds:0} s before {what}"
                    : $"QEMU exited before {what}");
            }

            await changed;
        }
    }

    private async Task ReadLoopAsync()
    {
        Stream stdout = _qemu.StandardOutput.BaseStream;
        var buffer = new byte[ReadBufferSize];
        try
        {
            int count;
            while ((count = await stdout.ReadAsync(buffer, CancellationToken.None)) > 0)
            {
                double seconds = Now;
                lock (_gate)
                {
                    Feed(Encoding.Latin1.GetString(buffer, 0, count), seconds);
                    Signal();
                }
            }
        }
        catch (IOException)
        {
            // The pipe broke when QEMU was killed: that is the end of its output.
        }
        finally
        {
            lock (_gate)
            {
                _ended = true;
                Signal();
            }
        }
    }

    private void Signal()
    {
        TaskCompletionSource previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
    }

    private void Feed(string chunk, double seconds)
    {
        foreach (char c in chunk)
        {
            if (c == '\n')
            {
                _lines.Add(new SerialLine(_lines.Count, Clean(_partial.ToString()), seconds));
                _partial.Clear();
                continue;
            }

            _partial.Append(c);
            if (_prompt is not null && EndsWith(_partial, _prompt) && (_prompts.Count == 0 || _prompts[^1].LineIndex != _lines.Count))
            {
                _prompts.Add((_lines.Count, seconds));
            }
        }
    }

    private static bool EndsWith(StringBuilder text, string suffix)
    {
        if (text.Length < suffix.Length)
        {
            return false;
        }

        for (int i = 0; i < suffix.Length; i++)
        {
            if (text[text.Length - suffix.Length + i] != suffix[i])
            {
                return false;
            }
        }

        return true;
    }

    // Only ever this QEMU, by its own PID: other QEMUs on the host (tests, people) are not ours.
    private void Kill()
    {
        try
        {
            if (!_qemu.HasExited)
            {
                _qemu.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Firmware, GRUB and Linux paint with escape sequences and end lines with "\r\n".
    public static string Clean(string line) => EscapePattern().Replace(line, string.Empty).Replace("\r", string.Empty);

    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|[ -/]*[0-~])")]
    private static partial Regex EscapePattern();
}
