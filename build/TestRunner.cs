namespace Percy.Build;

/// <summary>
/// The `test` target: build the ISO once, run the host unit tests and the QEMU integration
/// tests with dotnet test, and close with one summary line.
/// </summary>
internal static class TestRunner
{
    // Host tests first: they are fast and fail early on logic bugs.
    private static readonly string[] s_projects = ["Percy.Tests", "Percy.Qemu.Tests"];

    public const string IsoVariable = "PERCY_ISO";
    public const string ElfVariable = "PERCY_ELF";

    public static async Task<int> RunAsync(string? filter, CancellationToken cancellationToken)
    {
        string iso = await IsoBuild.BuildAsync(IsoOptions.Default, cancellationToken);
        var environment = new Dictionary<string, string?>
        {
            [IsoVariable] = iso,
            [ElfVariable] = Paths.KernelElf,
        };

        var total = new TestCounts();
        foreach (string name in s_projects)
        {
            string directory = Path.Combine(Paths.Tests, name);
            if (!Directory.Exists(directory) || !Directory.EnumerateFiles(directory, "*.csproj").Any())
            {
                Ui.Warn($"test: {Paths.Display(directory)} has no project yet; skipped");
                continue;
            }

            total += await RunProjectAsync(name, directory, filter, environment, cancellationToken);
        }

        if (total.Passed + total.Failed == 0)
        {
            Ui.Error("test: no test ran");
        }

        // The failures again, by name, where a log's tail shows them: the console log
        // names a failed test only above its (long) serial output.
        foreach (FailedTest failure in total.Failures)
        {
            Console.Out.WriteLine($"test: FAILED {failure.Name}: {failure.Message}");
        }

        // One plain line, last, for people and for CI's log reader alike.
        string skipped = total.Skipped > 0 ? $", {total.Skipped} skipped" : string.Empty;
        Console.Out.WriteLine($"test: {total.Passed} passed, {total.Failed} failed{skipped}");

        return total.Failed == 0 && total.Passed > 0 ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static async Task<TestCounts> RunProjectAsync(
        string name,
        string directory,
        string? filter,
        IReadOnlyDictionary<string, string?> environment,
        CancellationToken cancellationToken)
    {
        // A fresh results directory per project, so counts never include an earlier run.
        string results = Path.Combine(Paths.TestResults, name);
        if (Directory.Exists(results))
        {
            Directory.Delete(results, recursive: true);
        }

        var arguments = new List<string>
        {
            "test", directory,
            "--nologo",
            "-tl:off",
            "--results-directory", results,
            "--logger", "trx",
            // Normal verbosity names each test as it finishes, so a long QEMU suite shows progress.
            "--logger", "console;verbosity=normal",
        };

        if (!string.IsNullOrEmpty(filter))
        {
            arguments.AddRange(["--filter", filter]);
        }

        Ui.Info($"test: dotnet test {Paths.Display(directory)}");
        ToolResult result = await Tool.RunAsync("dotnet", arguments, cancellationToken, Console.Out.WriteLine, environment);
        TestCounts counts = TrxSummary.Read(results);

        // A build error or a crashed test host leaves no failed test behind; count the
        // project itself as one failure so the summary cannot read as a clean run.
        if (!result.Succeeded && counts.Failed == 0)
        {
            Ui.Error($"test: dotnet test {Paths.Display(directory)} failed (exit {result.ExitCode}) without a failed test; see its output above");
            counts += new TestCounts(0, 0, [new FailedTest(name, $"dotnet test exited {result.ExitCode} without a failed test")]);
        }

        return counts;
    }
}
