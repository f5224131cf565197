using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Harness;

/// <summary>
/// One QEMU run with its serial console on stdin/stdout.
/// <para>
/// Every run has a hard time limit (<see cref="QemuOptions.Timeout"/>, from QEMU's start):
/// when it passes QEMU is killed and every wait fails with the last 40 lines of output.
/// QEMU is only ever stopped through its own <see cref="Process"/> (by PID, with its
/// process tree), never by name. At most <see cref="MaxConcurrent"/> QEMUs run at once in a
/// process; <see cref="Start"/> waits for a slot before the clock starts.
/// </para>
/// <para>
/// Output is kept as lines (see <see cref="TerminalLineAssembler"/>). Waits consume output:
/// each one searches from where the previous one stopped, so a wait never matches a line
/// an earlier wait already returned.
/// </para>
/// </summary>
public sealed class QemuMachine : IDisposable
{
    // Declared first: static initialisers run in textual order.
    private static readonly int s_maxConcurrent =
        int.TryParse(Environment.GetEnvironmentVariable("PERCY_QEMU_SLOTS"), out var n) && n > 0 ? n : 2;
    private static readonly SemaphoreSlim s_slots = new(s_maxConcurrent, s_maxConcurrent);
    private static readonly HashSet<QemuMachine> s_live = new();

    /// <summary>QEMUs allowed at once in this process: $PERCY_QEMU_SLOTS, default 2 (the host has 2 cores).</summary>
    public static int MaxConcurrent => s_maxConcurrent;

    /// <summary>How long <see cref="Start"/> waits for a free QEMU slot.</summary>
    public static TimeSpan SlotWaitLimit { get; set; } = TimeSpan.FromMinutes(20);

    private readonly object _gate = new();
    private readonly Process _process;
    private readonly Stopwatch _clock;
    private readonly TerminalLineAssembler _terminal;
    private readonly List<OutputLine> _lines = new();
    private readonly List<PromptMark> _prompts = new();
    private readonly StringBuilder _raw = new();
    private readonly StringBuilder _stderr = new();
    private readonly List<(long Ms, byte[] Bytes)> _input = new();
    private readonly Thread _stdoutReader;
    private readonly Thread _stderrReader;
    private readonly Timer _hardTimer;
    private readonly DateTime _hardDeadlineUtc;
    private readonly Stream _stdin;
    private bool _eof;
    private bool _hardTimedOut;
    private bool _disposed;
    private bool _slotReleased;
    private int _nextLine; // first line not yet consumed by a wait
    private int? _exitCode;
    private long _lastOutputMs;

    static QemuMachine()
    {
        // Safety net: a test process that exits leaves no QEMU behind.
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            QemuMachine[] live;
            lock (s_live) live = s_live.ToArray();
            foreach (var m in live) m.Kill();
        };
    }

    public QemuOptions Options { get; }
    public string IsoPath { get; }
    public int ProcessId { get; }
    /// <summary>The command line QEMU was started with, for messages.</summary>
    public string CommandLine { get; }

    /// <summary>Boots QEMU (building the ISO or a cmdline variant first if needed).</summary>
    public static QemuMachine Start(QemuOptions? options = null)
    {
        options ??= new QemuOptions();
        var iso = options.IsoPath ?? PercyIso.DefaultPath;
        if (options.Cmdline is not null) iso = PercyIso.WithCmdline(options.Cmdline, iso);
        if (options.Uefi && !File.Exists(options.OvmfPath))
            throw new FileNotFoundException($"UEFI boot needs OVMF at {options.OvmfPath} (Debian package 'ovmf', or set PERCY_OVMF).", options.OvmfPath);

        if (!s_slots.Wait(SlotWaitLimit))
            throw new QemuTimeoutException($"no QEMU slot became free within {SlotWaitLimit.TotalMinutes:0} min ({MaxConcurrent} allowed at once)");
        try
        {
            return new QemuMachine(options, iso);
        }
        catch
        {
            s_slots.Release();
            throw;
        }
    }

    private QemuMachine(QemuOptions options, string iso)
    {
        Options = options;
        IsoPath = iso;
        var args = options.BuildArguments(iso);
        CommandLine = options.QemuBinary + " " + string.Join(' ', args.Select(a => a.Contains(' ') ? $"'{a}'" : a));

        _terminal = new TerminalLineAssembler(options.Prompt)
        {
            LineCompleted = l => _lines.Add(l),
            PromptSeen = p => _prompts.Add(p),
        };

        var psi = new ProcessStartInfo(options.QemuBinary)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        _process = new Process { StartInfo = psi };
        try
        {
            _process.Start();
        }
        catch (Exception e)
        {
            throw new QemuException($"cannot start QEMU ({CommandLine}): {e.Message}", e);
        }
        _clock = Stopwatch.StartNew();
        ProcessId = _process.Id;
        _stdin = _process.StandardInput.BaseStream;
        lock (s_live) s_live.Add(this);

        _hardDeadlineUtc = DateTime.UtcNow + options.Timeout;
        _hardTimer = new Timer(_ => OnHardTimeout(), null, options.Timeout, Timeout.InfiniteTimeSpan);

        _stdoutReader = new Thread(ReadStdout) { IsBackground = true, Name = $"qemu-{ProcessId}-stdout" };
        _stderrReader = new Thread(ReadStderr) { IsBackground = true, Name = $"qemu-{ProcessId}-stderr" };
        _stdoutReader.Start();
        _stderrReader.Start();
    }

    /// <summary>Milliseconds since QEMU started.</summary>
    public long ElapsedMs => _clock.ElapsedMilliseconds;

    /// <summary>Completed lines so far (a snapshot).</summary>
    public IReadOnlyList<OutputLine> Lines
    {
        get { lock (_gate) return _lines.ToArray(); }
    }

    /// <summary>Prompts seen so far (a snapshot).</summary>
    public IReadOnlyList<PromptMark> Prompts
    {
        get { lock (_gate) return _prompts.ToArray(); }
    }

    /// <summary>Everything shown so far: completed lines and the current partial line, '\n'-separated.</summary>
    public string Output
    {
        get
        {
            lock (_gate)
            {
                var sb = new StringBuilder();
                foreach (var l in _lines) sb.Append(l.Text).Append('\n');
                sb.Append(_terminal.Partial);
                return sb.ToString();
            }
        }
    }

    /// <summary>The serial output exactly as received (escape sequences and '\r' included).</summary>
    public string RawOutput
    {
        get { lock (_gate) return _raw.ToString(); }
    }

    /// <summary>QEMU's own stderr.</summary>
    public string StandardError
    {
        get { lock (_gate) return _stderr.ToString(); }
    }

    /// <summary>The current line, not yet ended by a newline (e.g. the prompt).</summary>
    public string PartialLine
    {
        get { lock (_gate) return _terminal.Partial; }
    }

    public bool HasExited
    {
        get { lock (_gate) return _eof && _exitCode is not null; }
    }

    /// <summary>Waits for a completed line containing <paramref name="text"/>; returns it.</summary>
    public OutputLine WaitFor(string text, TimeSpan? timeout = null) =>
        WaitForLine(l => l.Text.Contains(text, StringComparison.Ordinal), $"a line containing \"{text}\"", timeout);

    /// <summary>Waits for a completed line matching <paramref name="pattern"/>; returns it.</summary>
    public OutputLine WaitFor(Regex pattern, TimeSpan? timeout = null) =>
        WaitForLine(l => pattern.IsMatch(l.Text), $"a line matching /{pattern}/", timeout);

    /// <summary>Waits for a completed line satisfying <paramref name="predicate"/>; returns it.</summary>
    public OutputLine WaitForLine(Func<OutputLine, bool> predicate, string description, TimeSpan? timeout = null)
    {
        OutputLine? found = null;
        WaitUntil(() =>
        {
            for (int i = _nextLine; i < _lines.Count; i++)
            {
                if (predicate(_lines[i]))
                {
                    found = _lines[i];
                    _nextLine = i + 1;
                    return true;
                }
            }
            return false;
        }, description, timeout);
        return found!;
    }

    /// <summary>
    /// Waits until the shell shows its prompt (which has no newline after it) after the
    /// output consumed so far, and returns it.
    /// </summary>
    public PromptMark WaitForPrompt(TimeSpan? timeout = null)
    {
        PromptMark? found = null;
        WaitUntil(() =>
        {
            found = _prompts.FirstOrDefault(p => p.LineIndex >= _nextLine);
            if (found is null) return false;
            _nextLine = found.LineIndex; // the prompt's line is completed by the next echo
            return true;
        }, $"the prompt \"{Options.Prompt}\"", timeout);
        return found!;
    }

    /// <summary>
    /// Waits until QEMU has printed nothing for <paramref name="quietFor"/> (e.g. until the
    /// kernel has worked through a burst of input). Only a way to let things settle: it
    /// asserts nothing about how long that takes.
    /// </summary>
    public void WaitForQuiet(TimeSpan quietFor, TimeSpan? timeout = null)
    {
        var quietMs = (long)quietFor.TotalMilliseconds;
        WaitUntil(() => _clock.ElapsedMilliseconds - _lastOutputMs >= quietMs,
            $"{quietFor.TotalSeconds:0.#} s without output", timeout);
    }

    /// <summary>Types <paramref name="text"/> then Enter ('\r'). Characters are sent as bytes 0-255.</summary>
    public void SendLine(string text) => Send(text + "\r");

    /// <summary>
    /// Types <paramref name="text"/> as is; each character becomes one byte (Latin-1), so any
    /// byte can be sent. Paced at <see cref="QemuOptions.InputBytesPerSecond"/> like a real
    /// serial line (QEMU itself delivers input as fast as the guest drains its UART).
    /// </summary>
    public void Send(string text) => SendBytes(ToBytes(text), paced: true);

    /// <summary>Sends all of <paramref name="text"/> at once, as fast as QEMU takes it (input floods).</summary>
    public void SendUnpaced(string text) => SendBytes(ToBytes(text), paced: false);

    private static byte[] ToBytes(string text)
    {
        var bytes = new byte[text.Length];
        for (int i = 0; i < text.Length; i++)
        {
            if (text[i] > 0xFF) throw new ArgumentException($"character U+{(int)text[i]:X4} is not a byte; use SendBytes", nameof(text));
            bytes[i] = (byte)text[i];
        }
        return bytes;
    }

    /// <summary>Sends bytes, paced (see <see cref="Send"/>) unless <paramref name="paced"/> is false.</summary>
    public void SendBytes(ReadOnlySpan<byte> bytes, bool paced = true)
    {
        const int Chunk = 16; // a 16550's FIFO
        int rate = Options.InputBytesPerSecond;
        if (!paced || rate <= 0 || bytes.Length <= Chunk)
        {
            WriteStdin(bytes);
            return;
        }
        var clock = Stopwatch.StartNew();
        for (int off = 0; off < bytes.Length; off += Chunk)
        {
            var due = TimeSpan.FromSeconds((double)off / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero) Thread.Sleep(wait);
            WriteStdin(bytes.Slice(off, Math.Min(Chunk, bytes.Length - off)));
        }
    }

    private void WriteStdin(ReadOnlySpan<byte> bytes)
    {
        lock (_gate)
        {
            if (_input.Count < 1 << 20) _input.Add((_clock.ElapsedMilliseconds, bytes.ToArray()));
        }
        try
        {
            _stdin.Write(bytes);
            _stdin.Flush();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
            throw new QemuException(Describe($"could not write to QEMU's stdin ({e.Message}); it has probably exited"), e);
        }
    }

    /// <summary>
    /// Types <paramref name="command"/> and Enter and returns the lines the shell printed
    /// between the echo of the command and the next prompt. The command must be echoed as typed.
    /// </summary>
    public CommandOutput RunCommand(string command, TimeSpan? timeout = null) =>
        RunTyped(command, command, timeout);

    /// <summary>
    /// Like <see cref="RunCommand"/> for keystrokes that edit the line: sends
    /// <paramref name="keystrokes"/> and Enter, and expects the shell's echo to show
    /// <paramref name="expectedEcho"/> (after the terminal has applied backspaces).
    /// </summary>
    public CommandOutput RunTyped(string keystrokes, string expectedEcho, TimeSpan? timeout = null)
    {
        int start;
        lock (_gate) start = _nextLine;
        SendLine(keystrokes);

        string prompt = Options.Prompt;
        // An erased last character leaves a blank behind ("\b \b"), so an edited line is
        // compared without trailing blanks; a plain one must be echoed exactly.
        bool edited = keystrokes.Any(c => c is '\b' or '\u007f');
        string want = edited ? expectedEcho.TrimEnd() : expectedEcho;
        int echoIndex = -1;
        WaitUntil(() =>
        {
            for (int i = start; i < _lines.Count; i++)
            {
                var text = _lines[i].Text;
                var at = text.LastIndexOf(prompt, StringComparison.Ordinal);
                var typed = at >= 0 ? text[(at + prompt.Length)..] : text;
                if ((edited ? typed.TrimEnd() : typed) == want)
                {
                    echoIndex = i;
                    return true;
                }
            }
            return false;
        }, $"the echo of \"{Printable(expectedEcho)}\" after the prompt", timeout);

        PromptMark? next = null;
        WaitUntil(() =>
        {
            next = _prompts.FirstOrDefault(p => p.LineIndex > echoIndex);
            return next is not null;
        }, $"the prompt after \"{Printable(expectedEcho)}\"", timeout);

        lock (_gate)
        {
            var output = new List<OutputLine>();
            for (int i = echoIndex + 1; i < next!.LineIndex && i < _lines.Count; i++) output.Add(_lines[i]);
            if (next.Prefix.Length > 0)
                output.Add(new OutputLine(next.LineIndex, next.Prefix, next.TimestampMs));
            _nextLine = next.LineIndex;
            return new CommandOutput(expectedEcho, _lines[echoIndex], output);
        }
    }

    /// <summary>Waits for QEMU to exit and returns its exit code.</summary>
    public int WaitForExit(TimeSpan? timeout = null)
    {
        WaitUntil(() => _eof && _exitCode is not null && !_hardTimedOut, "QEMU to exit", timeout, failOnExit: false);
        lock (_gate) return _exitCode!.Value;
    }

    /// <summary>The last <paramref name="count"/> lines (the partial line included), for messages.</summary>
    public string Tail(int count = 40)
    {
        lock (_gate) return TailLocked(count);
    }

    /// <summary>Kills QEMU (by its PID, with its process tree) and frees its slot.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _hardTimer.Dispose();
        Kill();
        try { _stdin.Dispose(); } catch (IOException) { }
        _stdoutReader.Join(TimeSpan.FromSeconds(5));
        _stderrReader.Join(TimeSpan.FromSeconds(5));
        _process.Dispose();
        lock (s_live) s_live.Remove(this);
        ReleaseSlot();
        WriteTranscript();
    }

    private void ReleaseSlot()
    {
        lock (_gate)
        {
            if (_slotReleased) return;
            _slotReleased = true;
        }
        s_slots.Release();
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException) { } // already exited / never started
        catch (System.ComponentModel.Win32Exception) { }
    }

    private void OnHardTimeout()
    {
        lock (_gate)
        {
            if (_eof) return;
            _hardTimedOut = true;
            Monitor.PulseAll(_gate);
        }
        Kill();
    }

    private void ReadStdout()
    {
        var stream = _process.StandardOutput.BaseStream;
        var decoder = Encoding.UTF8.GetDecoder();
        var buffer = new byte[4096];
        var chars = new char[Encoding.UTF8.GetMaxCharCount(buffer.Length)];
        while (true)
        {
            int n;
            try { n = stream.Read(buffer, 0, buffer.Length); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { n = 0; }
            lock (_gate)
            {
                long now = _clock.ElapsedMilliseconds;
                if (n > 0)
                {
                    _lastOutputMs = now;
                    int c = decoder.GetChars(buffer, 0, n, chars, 0, flush: false);
                    _raw.Append(chars, 0, c);
                    _terminal.Feed(chars.AsSpan(0, c), now);
                }
                else
                {
                    _terminal.Flush(now);
                }
                Monitor.PulseAll(_gate);
            }
            if (n <= 0) break;
        }

        int code;
        try
        {
            _process.WaitForExit(10_000);
            code = _process.HasExited ? _process.ExitCode : -1;
        }
        catch (InvalidOperationException) { code = -1; }
        lock (_gate)
        {
            _exitCode = code;
            _eof = true;
            Monitor.PulseAll(_gate);
        }
        _hardTimer.Change(Timeout.Infinite, Timeout.Infinite);
        ReleaseSlot(); // QEMU is gone: let the next one start even before Dispose
    }

    private void ReadStderr()
    {
        var reader = _process.StandardError;
        var buffer = new char[1024];
        while (true)
        {
            int n;
            try { n = reader.Read(buffer, 0, buffer.Length); }
            catch (Exception e) when (e is IOException or ObjectDisposedException) { n = 0; }
            if (n <= 0) break;
            lock (_gate)
            {
                if (_stderr.Length < 64 * 1024) _stderr.Append(buffer, 0, n);
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>
    /// Waits (under the lock) until <paramref name="done"/> holds. Fails when the wait's
    /// own timeout or the run's hard deadline passes, or (unless told otherwise) when QEMU
    /// exits first.
    /// </summary>
    private void WaitUntil(Func<bool> done, string what, TimeSpan? timeout, bool failOnExit = true)
    {
        var now = DateTime.UtcNow;
        var deadline = timeout is { } t && now + t < _hardDeadlineUtc ? now + t : _hardDeadlineUtc;
        lock (_gate)
        {
            while (true)
            {
                if (done()) return;
                if (_hardTimedOut) break;
                if (_eof && _exitCode is not null && failOnExit)
                    throw new QemuException(Describe($"QEMU exited with code {_exitCode} while waiting for {what}"));
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero)
                {
                    if (deadline < _hardDeadlineUtc)
                        throw new QemuTimeoutException(Describe($"timed out after {timeout!.Value.TotalSeconds:0.#} s waiting for {what}"));
                    _hardTimedOut = true; // the timer may lag a little behind the deadline
                    break;
                }
                Monitor.Wait(_gate, left < TimeSpan.FromMilliseconds(500) ? left : TimeSpan.FromMilliseconds(500));
            }
        }

        // Hard timeout: make sure QEMU is gone and its last output read, then fail.
        Kill();
        lock (_gate)
        {
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(5);
            while (!_eof && DateTime.UtcNow < until) Monitor.Wait(_gate, 100);
        }
        throw new QemuTimeoutException(Describe(
            $"hard timeout: QEMU ran for {Options.Timeout.TotalSeconds:0.#} s (the limit) while waiting for {what}; killed"));
    }

    private string Describe(string problem)
    {
        lock (_gate)
        {
            var sb = new StringBuilder();
            sb.Append(problem).Append('\n');
            sb.Append($"QEMU pid {ProcessId}, {Options}, {_clock.ElapsedMilliseconds} ms since start");
            if (_eof) sb.Append($", exit code {_exitCode}");
            sb.Append('\n').Append("command: ").Append(CommandLine).Append('\n');
            sb.Append("--- last 40 lines of output ---\n").Append(TailLocked(40)).Append('\n');
            var err = _stderr.ToString().Trim();
            if (err.Length > 0) sb.Append("--- QEMU stderr ---\n").Append(ProcessRunner.Tail(err, 20)).Append('\n');
            return sb.ToString();
        }
    }

    private string TailLocked(int count)
    {
        var all = _lines.Select(l => $"[{l.TimestampMs,6} ms] {Printable(l.Text)}").ToList();
        if (_terminal.Partial.Length > 0) all.Add($"[partial  ] {Printable(_terminal.Partial)}");
        return string.Join('\n', all.Skip(Math.Max(0, all.Count - count)));
    }

    /// <summary>Shows control characters as \xNN, shortens very long lines.</summary>
    public static string Printable(string s, int max = 300)
    {
        var sb = new StringBuilder();
        foreach (var c in s.Length > max ? s[..max] : s)
        {
            if (c < 0x20 || (c >= 0x7f && c < 0xa0)) sb.Append($"\\x{(int)c:x2}");
            else sb.Append(c);
        }
        if (s.Length > max) sb.Append($"... ({s.Length} chars)");
        return sb.ToString();
    }

    /// <summary>$PERCY_QEMU_LOG_DIR set: every run's raw output and stderr are written there.</summary>
    private void WriteTranscript()
    {
        var dir = Environment.GetEnvironmentVariable("PERCY_QEMU_LOG_DIR");
        if (string.IsNullOrEmpty(dir)) return;
        try
        {
            Directory.CreateDirectory(dir);
            var name = $"{DateTime.UtcNow:yyyyMMdd-HHmmss}-{ProcessId}";
            string input;
            lock (_gate)
                input = string.Join('\n', _input.Select(i => $"[{i.Ms,6} ms] {Printable(Encoding.Latin1.GetString(i.Bytes), int.MaxValue)}"));
            File.WriteAllText(Path.Combine(dir, name + ".log"),
                $"# {CommandLine}\n# exit {_exitCode}\n{Output}\n# --- stderr ---\n{StandardError}\n# --- input ---\n{input}\n");
            File.WriteAllText(Path.Combine(dir, name + ".raw"), RawOutput);
        }
        catch (IOException) { }
    }
}

/// <summary>What a shell command printed.</summary>
public sealed class CommandOutput : IReadOnlyList<string>
{
    public CommandOutput(string command, OutputLine echo, IReadOnlyList<OutputLine> lines)
    {
        Command = command;
        Echo = echo;
        OutputLines = lines;
    }

    public string Command { get; }
    /// <summary>The line holding the prompt and the echoed command.</summary>
    public OutputLine Echo { get; }
    public IReadOnlyList<OutputLine> OutputLines { get; }

    public int Count => OutputLines.Count;
    public string this[int index] => OutputLines[index].Text;
    public IEnumerator<string> GetEnumerator() => OutputLines.Select(l => l.Text).GetEnumerator();
    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

    public string Text => string.Join('\n', this);
    public override string ToString() => $"{Command} -> {Count} line(s)\n{Text}";
}
