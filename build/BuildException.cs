namespace Percy.Build;

/// <summary>
/// A build failure the user can act on. <see cref="Exception.Message"/> is the one-line
/// error (what failed and what to do next); <see cref="ToolOutput"/> is the failing tool's
/// own output, shown above it so the reason is on screen.
/// </summary>
internal sealed class BuildException : Exception
{
    public BuildException(string message, string? toolOutput = null, int exitCode = ExitCodes.Failure)
        : base(message)
    {
        ToolOutput = toolOutput;
        ExitCode = exitCode;
    }

    public string? ToolOutput { get; }

    public int ExitCode { get; }
}
