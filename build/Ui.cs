using System.Diagnostics;
using Spectre.Console;

namespace Percy.Build;

/// <summary>
/// Everything the driver prints. On a terminal, long steps get a live spinner with elapsed
/// time and messages are coloured; anywhere else (CI logs, pipes) output is plain lines
/// with no ANSI sequences, so logs stay readable and grep-able.
/// </summary>
internal static class Ui
{
    // Longest status text shown next to a spinner; longer lines (apt output) are cut so
    // the live display stays on one row.
    private const int MaxStatusLength = 100;

    // Messages are never word-wrapped by Spectre: a one-line error stays one line for the
    // terminal to wrap (and for copy-paste). Only the live display follows the window size.
    private const int UnwrappedWidth = 4096;

    private static readonly IAnsiConsole s_live = CreateConsole(Console.Out);
    private static readonly IAnsiConsole s_out = CreateConsole(Console.Out, UnwrappedWidth);
    private static readonly IAnsiConsole s_err = CreateConsole(Console.Error, UnwrappedWidth);

    public static bool IsInteractive { get; } = DetectInteractive();

    public static void Info(string message) => Console.Out.WriteLine(message);

    public static void Success(string message) => WriteStyled(s_out, Console.Out, message, "green");

    public static void Warn(string message) => WriteStyled(s_err, Console.Error, "warning: " + message, "yellow");

    public static void Error(string message) => WriteStyled(s_err, Console.Error, message, "red bold");

    /// <summary>A diagnostic line from a tool that succeeded; it names itself (e.g. "warning CS0168").</summary>
    public static void ToolWarning(string line) => WriteStyled(s_err, Console.Error, line, "yellow");

    /// <summary>
    /// The output of steps that succeeded, printed after the step rather than during it, so
    /// it does not tear through the live progress display: each distinct line once. Clears the list.
    /// </summary>
    public static void ToolWarnings(List<string> outputs)
    {
        foreach (string line in outputs.SelectMany(o => o.Split('\n')).Select(l => l.TrimEnd()).Where(l => l.Length > 0).Distinct())
        {
            ToolWarning(line);
        }

        outputs.Clear();
    }

    /// <summary>A tool's own output, passed through verbatim (it may be multi-line).</summary>
    public static void ToolOutput(string text)
    {
        string trimmed = text.TrimEnd();
        if (trimmed.Length > 0)
        {
            Console.Error.WriteLine(trimmed);
        }
    }

    /// <summary>
    /// Runs one named step. Interactive: a spinner and a live clock, replaced by a tick and
    /// the duration. Plain: a start line and an end line with the duration.
    /// </summary>
    public static async Task<T> StepAsync<T>(string label, Func<IStepStatus, Task<T>> work)
    {
        var clock = Stopwatch.StartNew();
        bool ok = false;
        try
        {
            T result;
            if (IsInteractive)
            {
                result = await s_live.Progress()
                    .AutoClear(true)
                    .HideCompleted(true)
                    .Columns(new SpinnerColumn(), new TaskDescriptionColumn { Alignment = Justify.Left }, new ElapsedTimeColumn())
                    .StartAsync(async ctx =>
                    {
                        ProgressTask task = ctx.AddTask(Markup.Escape(label));
                        task.IsIndeterminate = true;
                        T value = await work(new LiveStatus(task, label));
                        task.StopTask();
                        return value;
                    });
            }
            else
            {
                Info($"{label} ...");
                result = await work(PlainStatus.Instance);
            }

            ok = true;
            return result;
        }
        finally
        {
            string elapsed = FormatDuration(clock.Elapsed);
            if (IsInteractive)
            {
                s_out.MarkupLine(ok
                    ? $"[green]✓[/] {Markup.Escape(label)} [grey]({elapsed})[/]"
                    : $"[red]✗[/] {Markup.Escape(label)} [grey]({elapsed})[/]");
            }
            else
            {
                Info(ok ? $"{label}: done ({elapsed})" : $"{label}: FAILED ({elapsed})");
            }
        }
    }

    public static async Task StepAsync(string label, Func<IStepStatus, Task> work)
        => await StepAsync<bool>(label, async status =>
        {
            await work(status);
            return true;
        });

    public static string FormatDuration(TimeSpan elapsed) => $"{elapsed.TotalSeconds:0.0} s";

    public static string FormatSize(long bytes)
    {
        const double BytesPerKiB = 1024;
        const double BytesPerMiB = BytesPerKiB * 1024;
        return bytes >= BytesPerMiB ? $"{bytes / BytesPerMiB:0.0} MiB" : $"{bytes / BytesPerKiB:0.0} KiB";
    }

    private static void WriteStyled(IAnsiConsole console, TextWriter plain, string message, string style)
    {
        if (IsInteractive)
        {
            console.MarkupLine($"[{style}]{Markup.Escape(message)}[/]");
        }
        else
        {
            plain.WriteLine(message);
        }
    }

    // CI sets CI=true; its output is a pipe anyway, but a pseudo-terminal in some runners
    // would otherwise get spinners.
    private static bool DetectInteractive()
        => !Console.IsOutputRedirected
           && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("CI"))
           && Environment.GetEnvironmentVariable("TERM") != "dumb";

    private static IAnsiConsole CreateConsole(TextWriter writer, int? width = null)
    {
        bool interactive = DetectInteractive();
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Detect : InteractionSupport.No,
            Out = new AnsiConsoleOutput(writer),
        });

        if (width is int fixedWidth)
        {
            console.Profile.Width = fixedWidth;
        }

        return console;
    }

    /// <summary>What a running step may report: the latest line of a chatty tool.</summary>
    internal interface IStepStatus
    {
        void Report(string line);
    }

    private sealed class LiveStatus(ProgressTask task, string label) : IStepStatus
    {
        public void Report(string line)
        {
            string text = line.Trim();
            if (text.Length == 0)
            {
                return;
            }

            if (text.Length > MaxStatusLength)
            {
                text = text[..MaxStatusLength] + "…";
            }

            task.Description = $"{Markup.Escape(label)} [grey]{Markup.Escape(text)}[/]";
        }
    }

    // In a log every line matters and nothing is redrawn, so lines go straight out.
    private sealed class PlainStatus : IStepStatus
    {
        public static readonly PlainStatus Instance = new();

        public void Report(string line) => Info("  " + line);
    }
}
