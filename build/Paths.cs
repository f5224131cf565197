namespace Percy.Build;

/// <summary>Where things live in the repository, all absolute.</summary>
internal static class Paths
{
    private const string DriverProject = "build/Percy.Build.csproj";

    private static string? s_root;

    // Found on first use rather than in a static initializer, so a failure surfaces as the
    // BuildException itself instead of a TypeInitializationException.
    public static string Root => s_root ??= FindRoot();

    public static string Kernel => Path.Combine(Root, "kernel");

    public static string Tests => Path.Combine(Root, "tests");

    public static string GrubTemplate => Path.Combine(Root, "iso", "grub.cfg");

    /// <summary>Everything the build produces (gitignored).</summary>
    public static string Out => Path.Combine(Root, "iso", "out");

    public static string Objects => Path.Combine(Out, "obj");

    public static string IsoStaging => Path.Combine(Out, "isoroot");

    public static string TestResults => Path.Combine(Out, "test-results");

    public static string KernelElf => Path.Combine(Out, "percy.elf");

    public static string Iso => Path.Combine(Out, "percy.iso");

    /// <summary>A path as the user should see it: relative to the repository root.</summary>
    public static string Display(string path) => Path.GetRelativePath(Root, path);

    // The driver runs from build/bin/...; walking up from there finds the tree it was built
    // from even when invoked from another directory. The working directory is the fallback
    // for unusual layouts (e.g. the assembly copied elsewhere).
    private static string FindRoot()
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, DriverProject)))
                {
                    return dir.FullName;
                }
            }
        }

        throw new BuildException($"build: cannot find the Percy repository (no {DriverProject} above {AppContext.BaseDirectory}); run ./build.sh from a Percy checkout");
    }
}
