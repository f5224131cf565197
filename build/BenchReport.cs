using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Spectre.Console;

namespace Percy.Build;

/// <summary>The ISO the benchmark booted and how long building it took.</summary>
internal sealed record BenchIso(string Path, long Bytes, double BuildSeconds);

/// <summary>A performance target from the issue: a median that should stay at or under a limit. Reported, never enforced.</summary>
internal sealed record BenchGoal(string Description, double LimitSeconds, double MedianSeconds)
{
    public bool Met => MedianSeconds <= LimitSeconds;

    public string Verdict => Met ? "PASS" : "MISS";

    [JsonIgnore]
    public string Sentence => $"{Description}: {MedianSeconds:0.000} s, target at most {LimitSeconds:0.000} s";
}

/// <summary>
/// One benchmark run with its context (date, commit, host, QEMU, command), shown as a table
/// and written to bench/results/ as markdown for people and JSON for tools.
/// </summary>
internal sealed record BenchReport(
    string Date,
    string Commit,
    int HostNproc,
    string QemuVersion,
    string Command,
    int Runs,
    string Machine,
    int Smp,
    string Memory,
    BenchIso Iso,
    BenchGoal Goal,
    IReadOnlyList<BenchResult> Configurations)
{
    private static readonly string[] s_headers = ["configuration", "runs", "first line, s", "prompt, s", "boot_ms"];

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,

        // Keeps "+dirty", "`percy> `" and the like readable; the file is data, never HTML.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private const string Method =
        "Times are seconds from just before QEMU's process starts: *first line* until the newline of the first kernel " +
        "log line (`[    0.000000] percy: Percy ...`) arrives on the serial console, *prompt* until `percy> ` arrives " +
        "after the `percy: ready` line. *boot_ms* is the kernel's own figure from that ready line. Boots run one after " +
        "another; each ends with `poweroff` (QEMU exits 0).";

    /// <summary>A Spectre table on a terminal; plain pipe-separated lines anywhere else.</summary>
    public void Print()
    {
        if (Ui.IsInteractive)
        {
            var table = new Table()
                .AddColumns(s_headers.Select(h => new TableColumn(Markup.Escape(h))).ToArray())
                .Caption(Markup.Escape(Caption));
            foreach (string[] row in Rows())
            {
                table.AddRow(row.Select(Markup.Escape).ToArray());
            }

            AnsiConsole.Write(table);
        }
        else
        {
            foreach (string line in PipeTable())
            {
                Ui.Info(line);
            }

            Ui.Info(Caption);
        }
    }

    public string ToMarkdown()
    {
        var text = new StringBuilder();
        text.AppendLine("# Percy boot benchmark").AppendLine();
        text.AppendLine("| | |").AppendLine("|---|---|");
        text.AppendLine($"| date | {Date} |");
        text.AppendLine($"| commit | {Commit} |");
        text.AppendLine($"| host nproc | {HostNproc} |");
        text.AppendLine($"| QEMU | {QemuVersion} |");
        text.AppendLine($"| command | `{Command}` |");
        text.AppendLine($"| ISO | {Iso.Path}, {Iso.Bytes} bytes ({Ui.FormatSize(Iso.Bytes)}), built in {Iso.BuildSeconds:0.0} s (kernel and image steps) |");
        text.AppendLine();
        foreach (string line in PipeTable())
        {
            text.AppendLine(line);
        }

        text.AppendLine();
        text.AppendLine(Caption + ".");
        text.AppendLine();
        text.AppendLine($"Target: {Goal.Sentence}: **{Goal.Verdict}**.");
        text.AppendLine();
        text.AppendLine(Method);
        text.AppendLine();
        text.AppendLine("QEMU commands:").AppendLine();
        foreach (BenchResult result in Configurations)
        {
            text.AppendLine($"- {result.Configuration}: `{result.QemuCommand}`");
        }

        return text.ToString();
    }

    private string Caption => $"each cell: median / min / max of {Runs} boot{(Runs == 1 ? string.Empty : "s")}, after {BenchTarget.WarmupBoots} warm-up boot not counted; -machine {Machine} -m {Memory}";

    public string ToJson() => JsonSerializer.Serialize(this, s_json) + "\n";

    private IEnumerable<string[]> Rows()
        => Configurations.Select(r => new[]
        {
            r.Configuration,
            r.Samples.Count.ToString(CultureInfo.InvariantCulture),
            Format(r.Summary.FirstLineSeconds, "0.000"),
            Format(r.Summary.PromptSeconds, "0.000"),
            Format(r.Summary.BootMs, "0.#"),
        });

    private static string Format(BenchStat stat, string format)
        => string.Join(" / ", new[] { stat.Median, stat.Min, stat.Max }.Select(v => v.ToString(format, CultureInfo.InvariantCulture)));

    // A markdown table padded so it also reads well as plain text in a log.
    private IEnumerable<string> PipeTable()
    {
        List<string[]> rows = [.. Rows()];
        int[] widths = [.. s_headers.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max())];
        string Line(IEnumerable<string> cells) => "| " + string.Join(" | ", cells.Select((c, i) => c.PadRight(widths[i]))) + " |";

        yield return Line(s_headers);
        yield return Line(widths.Select(w => new string('-', w)));
        foreach (string[] row in rows)
        {
            yield return Line(row);
        }
    }
}
