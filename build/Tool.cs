using System.ComponentModel;
using System.Diagnostics;
using CliWrap;

namespace Percy.Build;

/// <summary>The outcome of one external tool run; <see cref="Output"/> interleaves stdout and stderr in arrival order.</summary>
internal sealed record ToolResult(int ExitCode, string Output, TimeSpan Duration)
{
    public bool Succeeded => ExitCode == ExitCodes.Success;
}

/// <summary>Runs external tools (dotnet, nasm, ld, grub-mkrescue, apt-get, ...) through CliWrap.</summary>
internal static class Tool
{
    /// <summary>
    /// Runs <paramref name="program"/> and captures its output. A non-zero exit is returned,
    /// not thrown: callers decide what it means. <paramref name="onLine"/> sees each line
    /// as it arrives, for tools whose progress should be visible.
    /// </summary>
    public static async Task<ToolResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        CancellationToken cancellationToken,
        Action<string>? onLine = null,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? workingDirectory = null)
    {
        var lines = new List<string>();
        var gate = new Lock();

        // Both streams feed one list so errors keep their place among the other messages.
        void Collect(string line)
        {
            lock (gate)
            {
                lines.Add(line);
            }

            onLine?.Invoke(line);
        }

        Command command = Cli.Wrap(program)
            .WithArguments(arguments)
            .WithWorkingDirectory(workingDirectory ?? Paths.Root)
            .WithEnvironmentVariables(environment ?? new Dictionary<string, string?>())
            .WithValidation(CommandResultValidation.None)
            .WithStandardOutputPipe(PipeTarget.ToDelegate(Collect))
            .WithStandardErrorPipe(PipeTarget.ToDelegate(Collect));

        var clock = Stopwatch.StartNew();
        CommandResult result;
        try
        {
            result = await command.ExecuteAsync(cancellationToken);
        }
        catch (Win32Exception)
        {
            throw new BuildException($"build: '{program}' is not on PATH; install it and try again (./build.sh deps checks the packages the build needs)");
        }

        lock (gate)
        {
            return new ToolResult(result.ExitCode, string.Join('\n', lines), clock.Elapsed);
        }
    }

    /// <summary>
    /// Like <see cref="RunAsync"/>, but a non-zero exit becomes a <see cref="BuildException"/>
    /// reading "<paramref name="step"/> failed (exit N); <paramref name="advice"/>", with the tool's output.
    /// </summary>
    public static async Task<ToolResult> RunCheckedAsync(
        string program,
        IEnumerable<string> arguments,
        string step,
        string advice,
        CancellationToken cancellationToken,
        Action<string>? onLine = null,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        ToolResult result = await RunAsync(program, arguments, cancellationToken, onLine, environment);
        if (!result.Succeeded)
        {
            throw new BuildException($"{step} failed (exit {result.ExitCode}); {advice}", result.Output);
        }

        return result;
    }

    /// <summary>Whether <paramref name="program"/> is an executable file on PATH.</summary>
    public static bool IsOnPath(string program)
    {
        string path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        foreach (string dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            if (File.Exists(Path.Combine(dir, program)))
            {
                return true;
            }
        }

        return false;
    }
}
