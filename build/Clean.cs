namespace Percy.Build;

/// <summary>The `clean` target: removes every build output of the kernel, the ISO and the tests.</summary>
internal static class Clean
{
    private static readonly string[] s_outputDirectories = ["bin", "obj"];

    public static int Run()
    {
        var targets = new List<string> { Paths.Out };
        targets.AddRange(s_outputDirectories.Select(d => Path.Combine(Paths.Kernel, d)));
        if (Directory.Exists(Paths.Tests))
        {
            foreach (string project in Directory.EnumerateDirectories(Paths.Tests))
            {
                targets.AddRange(s_outputDirectories.Select(d => Path.Combine(project, d)));
            }
        }

        var removed = new List<string>();
        foreach (string target in targets.Where(Directory.Exists))
        {
            Directory.Delete(target, recursive: true);
            removed.Add(Paths.Display(target));
        }

        Ui.Info(removed.Count > 0 ? $"clean: removed {string.Join(", ", removed)}" : "clean: nothing to remove");
        return ExitCodes.Success;
    }
}
