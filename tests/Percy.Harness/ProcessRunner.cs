using System.Diagnostics;
using System.Text;

namespace Percy.Harness;

/// <summary>Runs a short-lived helper program (build driver, xorriso) with a time limit.</summary>
internal static class ProcessRunner
{
    public sealed record Result(int ExitCode, string Output);

    public static Result Run(string file, IEnumerable<string> args, string? workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);

        var output = new StringBuilder();
        using var p = new Process { StartInfo = psi };
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        try
        {
            p.Start();
        }
        catch (Exception e)
        {
            throw new InvalidOperationException($"cannot start '{file}': {e.Message}", e);
        }
        p.StandardInput.Close();
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        if (!p.WaitForExit(timeout))
        {
            try { p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
            p.WaitForExit(5000);
            lock (output)
                throw new TimeoutException($"'{file} {string.Join(' ', psi.ArgumentList)}' did not finish within {timeout.TotalSeconds:0} s; killed.\n{Tail(output.ToString(), 40)}");
        }
        p.WaitForExit(); // drain the async readers
        lock (output) return new Result(p.ExitCode, output.ToString());
    }

    public static string Tail(string text, int lines)
    {
        var all = text.Replace("\r", "").Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }
}
