using System.Xml.Linq;

namespace Percy.Build;

/// <summary>A test that did not pass, and the first line of what it reported.</summary>
internal readonly record struct FailedTest(string Name, string Message);

/// <summary>Test counts, added up across projects, with the tests that failed.</summary>
internal readonly record struct TestCounts(int Passed, int Skipped, IReadOnlyList<FailedTest> Failures)
{
    public TestCounts() : this(0, 0, []) { }

    public int Failed => Failures.Count;

    public static TestCounts operator +(TestCounts a, TestCounts b)
        => new(a.Passed + b.Passed, a.Skipped + b.Skipped, [.. a.Failures, .. b.Failures]);
}

/// <summary>
/// Counts the test results in Visual Studio test result (.trx) files, which dotnet test
/// writes with --logger trx. They are exact, unlike scraping the console summary.
/// </summary>
internal static class TrxSummary
{
    private const string PassedOutcome = "Passed";

    // xunit's skipped tests are "NotExecuted" results; the <Counters> element does not count
    // them at all, which is why each result is read instead.
    private static readonly string[] s_skippedOutcomes = ["NotExecuted", "Inconclusive", "Pending"];

    public static TestCounts Read(string directory)
    {
        var counts = new TestCounts();
        if (!Directory.Exists(directory))
        {
            return counts;
        }

        foreach (string file in Directory.EnumerateFiles(directory, "*.trx", SearchOption.AllDirectories))
        {
            counts += ReadFile(file);
        }

        return counts;
    }

    private static TestCounts ReadFile(string file)
    {
        XElement? results = XDocument.Load(file).Root?.Elements().FirstOrDefault(e => e.Name.LocalName == "Results");
        int passed = 0, skipped = 0;
        var failures = new List<FailedTest>();

        // Only direct children: data-driven runners nest per-row results inside a parent
        // result that already carries the combined outcome.
        foreach (XElement result in results?.Elements().Where(e => e.Name.LocalName == "UnitTestResult") ?? [])
        {
            string outcome = result.Attribute("outcome")?.Value ?? string.Empty;
            if (outcome == PassedOutcome)
            {
                passed++;
            }
            else if (s_skippedOutcomes.Contains(outcome))
            {
                skipped++;
            }
            else
            {
                // Failed, Error, Timeout, Aborted, ...: anything else counts against the run.
                failures.Add(new FailedTest(result.Attribute("testName")?.Value ?? "(unnamed test)", FirstMessageLine(result)));
            }
        }

        return new TestCounts(passed, skipped, failures);
    }

    // The assertion's message sits in Output/ErrorInfo/Message; its first line names what
    // went wrong, the rest (QEMU's serial output, stack) is in the console log above.
    private static string FirstMessageLine(XElement result)
    {
        string message = result.Descendants().FirstOrDefault(e => e.Name.LocalName == "Message")?.Value ?? string.Empty;
        return message.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "(no message)";
    }
}
