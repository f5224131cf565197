using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>
/// A QEMU whose serial console a benchmark drives like a person at the shell: wait for
/// <c>percy> </c>, type a command, take the lines it printed up to the next prompt, and at
/// the end <c>poweroff</c> (QEMU must exit 0). QEMU is killed by its own PID, with its
/// process tree, when the session is disposed early or outlives its hard timeout.
/// </summary>
internal sealed partial class BenchShell : IAsyncDisposable
{
    private const string Prompt = "percy> ";
    private const string PowerOff = "poweroff";
    private const int ReadBufferSize = 4096;
    private const int TailCharacters = 3000;

    private readonly Process _qemu;
    private readonly CancellationToken _cancellation;
    private readonly CancellationTokenSource _limit;
    private readonly CancellationTokenRegistration _killOnLimit;
    private readonly Task<string> _stderr;
    private readonly StringBuilder _output = new();
    private readonly byte[] _buffer = new byte[ReadBufferSize];
    private readonly string _label;
    private int _consumed;

    private BenchShell(Process qemu, string label, TimeSpan hardTimeout, CancellationToken cancellationToken)
    {
        _qemu = qemu;
        _label = label;
        _cancellation = cancellationToken;
        _limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _limit.CancelAfter(hardTimeout);
        _killOnLimit = _limit.Token.Register(Kill);
        _stderr = qemu.StandardError.ReadToEndAsync(CancellationToken.None);
    }

    /// <summary>Starts QEMU and waits for the first prompt.</summary>
    public static async Task<BenchShell> StartAsync(IReadOnlyList<string> arguments, string label, TimeSpan hardTimeout, CancellationToken cancellationToken)
    {
        var qemu = new Process { StartInfo = PipedQemu(arguments) };
        try
        {
            qemu.Start();
        }
        catch (Win32Exception)
        {
            qemu.Dispose();
            throw new BuildException($"bench: {QemuRunner.QemuBinary} was not found on PATH; run ./build.sh deps");
        }

        var shell = new BenchShell(qemu, label, hardTimeout, cancellationToken);
        try
        {
            await shell.ReadToPromptAsync("the prompt");
        }
        catch
        {
            await shell.DisposeAsync();
            throw;
        }

        return shell;
    }

    /// <summary>QEMU with these arguments and the serial console (and stderr) on pipes.</summary>
    public static ProcessStartInfo PipedQemu(IReadOnlyList<string> arguments)
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

        return startInfo;
    }

    /// <summary>Types <paramref name="command"/> and returns the lines it printed (without its echo and the next prompt).</summary>
    public async Task<IReadOnlyList<string>> RunAsync(string command)
    {
        await SendAsync(command + "\r");
        string text = await ReadToPromptAsync($"`{command}`");
        return [.. text.Split('\n').Skip(1).Select(Clean).Where(line => line.Length > 0)];
    }

    /// <summary>Types <c>poweroff</c> and waits for QEMU to exit 0.</summary>
    public async Task PowerOffAsync()
    {
        await SendAsync(PowerOff + "\r");
        while (await ReadChunkAsync() > 0)
        {
        }

        await _qemu.WaitForExitAsync(CancellationToken.None);
        if (_limit.IsCancellationRequested)
        {
            throw await FailureAsync("did not power off before its hard timeout and was killed");
        }

        if (_qemu.ExitCode != ExitCodes.Success)
        {
            throw await FailureAsync($"exited with {_qemu.ExitCode} after poweroff instead of 0");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Kill();
        await _qemu.WaitForExitAsync(CancellationToken.None);
        await _killOnLimit.DisposeAsync();
        _limit.Dispose();
        _qemu.Dispose();
    }

    // The text from the last prompt to the next one; QEMU's exit or the hard timeout first is an error.
    private async Task<string> ReadToPromptAsync(string what)
    {
        while (true)
        {
            int end = _output.ToString(_consumed, _output.Length - _consumed).IndexOf(Prompt, StringComparison.Ordinal);
            if (end >= 0)
            {
                string text = _output.ToString(_consumed, end);
                _consumed += end + Prompt.Length;
                return text;
            }

            if (await ReadChunkAsync() == 0)
            {
                throw await FailureAsync(_limit.IsCancellationRequested
                    ? $"was killed at its hard timeout while waiting for {what}"
                    : $"exited ({_qemu.ExitCode}) while waiting for {what}");
            }
        }
    }

    // 0 when QEMU's output has ended (it exited, or the timeout killed it).
    private async Task<int> ReadChunkAsync()
    {
        int count = await _qemu.StandardOutput.BaseStream.ReadAsync(_buffer, CancellationToken.None);
        _output.Append(Encoding.Latin1.GetString(_buffer, 0, count));
        return count;
    }

    private async Task SendAsync(string text)
    {
        try
        {
            await _qemu.StandardInput.WriteAsync(text);
            await _qemu.StandardInput.FlushAsync();
        }
        catch (IOException)
        {
            // QEMU has gone; the next read sees the end of its output and reports it.
        }
    }

    private async Task<BuildException> FailureAsync(string what)
    {
        _cancellation.ThrowIfCancellationRequested();
        string tail = Clean(_output.ToString(Math.Max(0, _output.Length - TailCharacters), Math.Min(TailCharacters, _output.Length)));
        return new BuildException($"bench: {_label}: QEMU (pid {_qemu.Id}) {what}; its last output is above", tail + "\n" + await _stderr);
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

    /// <summary>A serial line without the escape sequences firmware and GRUB paint with, and without "\r".</summary>
    public static string Clean(string line) => EscapePattern().Replace(line, string.Empty).Replace("\r", string.Empty);

    [GeneratedRegex(@"\x1B(?:\[[0-?]*[ -/]*[@-~]|[ -/]*[0-~])")]
    private static partial Regex EscapePattern();
}
