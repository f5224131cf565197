namespace Percy.Build;

/// <summary>The version and build id stamped into the kernel.</summary>
internal static class BuildInfo
{
    public const string Version = "0.1.0";

    private const string NoGit = "nogit";
    private const string DirtySuffix = "+dirty";

    /// <summary>
    /// The short commit hash, with <c>+dirty</c> when tracked or untracked files differ from
    /// it (an untracked source file changes the kernel too), or <c>nogit</c> outside a
    /// usable git checkout.
    /// </summary>
    public static async Task<string> GetBuildIdAsync(CancellationToken cancellationToken)
    {
        if (!Tool.IsOnPath("git"))
        {
            return NoGit;
        }

        ToolResult head = await Tool.RunAsync("git", ["rev-parse", "--short", "HEAD"], cancellationToken);
        if (!head.Succeeded)
        {
            return NoGit;
        }

        string hash = head.Output.Trim();
        ToolResult status = await Tool.RunAsync("git", ["status", "--porcelain"], cancellationToken);
        bool dirty = !status.Succeeded || status.Output.Trim().Length > 0;
        return dirty ? hash + DirtySuffix : hash;
    }
}
