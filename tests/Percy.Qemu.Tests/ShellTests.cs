using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// One BIOS boot shared by the read-only checks below (xunit runs a class's tests one after
/// another, so they take turns at the shell). A boot failure is kept and reported by every
/// test, rather than thrown from the fixture.
/// </summary>
public sealed class SharedBoot : IDisposable
{
    public const int Smp = 2;
    private readonly Exception? _failure;
    private readonly QemuMachine? _machine;
    private readonly BootInfo? _boot;

    public SharedBoot()
    {
        try
        {
            // Longer hard limit than a single-check boot: the whole class runs on it.
            _machine = QemuMachine.Start(new QemuOptions { Smp = Smp, Timeout = TimeSpan.FromSeconds(240) });
            _boot = _machine.WaitForBoot(TimeSpan.FromSeconds(90));
        }
        catch (Exception e)
        {
            _failure = e;
        }
    }

    public QemuMachine Machine => Require().Machine;
    public BootInfo Boot => Require().Boot;

    private (QemuMachine Machine, BootInfo Boot) Require()
    {
        if (_failure is not null)
            throw new QemuException($"the shared boot failed: {_failure.Message}", _failure);
        return (_machine!, _boot!);
    }

    public CommandOutput Run(string command, int timeoutSeconds = 30) =>
        Machine.RunCommand(command, TimeSpan.FromSeconds(timeoutSeconds));

    public void Dispose() => _machine?.Dispose();
}

/// <summary>Boot log, banner and the read-only shell commands, on one shared BIOS boot.</summary>
public class ShellTests : IClassFixture<SharedBoot>
{
    private readonly SharedBoot _shared;

    public ShellTests(SharedBoot shared) => _shared = shared;

    private QemuMachine M => _shared.Machine;
    private BootInfo Boot => _shared.Boot;

    [Fact]
    public void Boot_prints_banner_first_then_ready_line_then_prompt()
    {
        KernelContract.AssertGoodBoot(M, Boot, SharedBoot.Smp);
        Assert.Equal(SharedBoot.Smp, Boot.CpusPossible);
    }

    [Fact]
    public void Boot_log_lines_use_the_dmesg_format()
    {
        foreach (var l in Boot.Log)
        {
            Assert.True(l.SecondsField.Length == 5, $"seconds field is not 5 wide in: {l.Text}");
            // "percy: ..." or a subsystem tag in the same form ("acpi: ...").
            Assert.Matches(@"^[a-z][a-z0-9_.-]*: ", l.Message);
        }
        for (int i = 1; i < Boot.Log.Count; i++)
            Assert.True(Boot.Log[i].Microseconds >= Boot.Log[i - 1].Microseconds,
                $"log timestamps go backwards:\n  {Boot.Log[i - 1].Text}\n  {Boot.Log[i].Text}");
    }

    [Fact]
    public void Boot_log_has_no_errors_or_warnings()
    {
        var bad = Boot.Log.Where(l => l.IsErrorOrWarning).Select(l => l.Text).ToList();
        Assert.True(bad.Count == 0, "a clean BIOS boot logged errors/warnings:\n" + string.Join('\n', bad));
    }

    [Fact]
    public void Version_prints_the_banner_text()
    {
        KernelContract.AssertVersion(M, Boot);
        Assert.EndsWith("percy> version", _shared.Run("version").Echo.Text); // echoed as typed
    }

    [Fact]
    public void Help_lists_every_command_with_a_description()
    {
        var help = _shared.Run("help");
        Assert.NotEmpty(help);
        var names = new List<string>();
        foreach (var line in help)
        {
            var m = KernelContract.HelpLine.Match(line);
            Assert.True(m.Success, $"help line is not 'name  description': '{line}'\n{help.Text}");
            names.Add(m.Groups["name"].Value);
        }
        Assert.Equal(names.Count, names.Distinct().Count());
        var missing = KernelContract.Commands.Except(names).ToList();
        Assert.True(missing.Count == 0, $"help does not list: {string.Join(", ", missing)}\n{help.Text}");
    }

    [Fact]
    public void Log_reprints_the_boot_log_starting_with_the_banner()
    {
        var log = _shared.Run("log");
        Assert.NotEmpty(log);
        Assert.Equal(Boot.FirstLog!.Text, log[0]);
        var bootLines = Boot.Log.Select(l => l.Text).ToList();
        Assert.True(log.Count >= bootLines.Count, $"log printed {log.Count} lines, boot printed {bootLines.Count} log lines\n{log.Text}");
        Assert.Equal(bootLines, log.Take(bootLines.Count).ToList());
    }

    [Fact]
    public void Cmdline_prints_at_most_one_line()
    {
        var c = _shared.Run("cmdline");
        Assert.True(c.Count <= 1, $"cmdline printed {c.Count} lines:\n{c.Text}");
        Assert.DoesNotContain(c, l => l.Contains("error", StringComparison.Ordinal));
    }

    [Fact]
    public void Mem_prints_memory_map_rows()
    {
        var mem = _shared.Run("mem");
        Assert.NotEmpty(mem);
        Assert.DoesNotContain(mem, l => l.Contains("error", StringComparison.Ordinal));
        Assert.Contains(mem, l => System.Text.RegularExpressions.Regex.IsMatch(l, "[0-9a-fA-F]{5,}"));
    }

    [Fact]
    public void Selftest_output_is_ktap_with_no_failures()
    {
        var doc = RunSelftest("selftest");
        Assert.NotEmpty(doc.Tests);
    }

    [Fact]
    public void Selftest_of_one_suite_runs_only_that_suite()
    {
        var all = RunSelftest("selftest");
        var suite = all.Tests[0].Name;
        var one = RunSelftest($"selftest {suite}");
        var only = Assert.Single(one.Tests);
        Assert.Equal(suite, only.Name);
    }

    [Fact]
    public void Selftest_of_an_unknown_suite_is_one_error_line()
    {
        var o = _shared.Run("selftest no_such_suite_xyz");
        Assert.True(o.Count == 1, $"expected one error line, got {o.Count}:\n{o.Text}");
        Assert.StartsWith("selftest: error: ", o[0]);
    }

    [Theory]
    [InlineData("frobnicate")]
    [InlineData("helpp")]
    [InlineData("x")]
    public void Unknown_command_is_one_error_line(string command)
    {
        var o = _shared.Run(command);
        Assert.True(o.Count == 1, $"expected one line, got {o.Count}:\n{o.Text}");
        var m = KernelContract.UnknownCommand.Match(o[0]);
        Assert.True(m.Success, $"not the unknown-command error: '{o[0]}'");
        Assert.Equal(command, m.Groups["cmd"].Value);
    }

    [Fact]
    public void Empty_line_prints_nothing_and_prompts_again()
    {
        Assert.Empty(_shared.Run(""));
        Assert.Empty(_shared.Run(""));
    }

    [Theory]
    [InlineData("versiox\u007fn")]          // DEL
    [InlineData("versiox\bn")]              // BS
    [InlineData("vxx\u007f\u007fersion")]   // two in a row
    [InlineData("help\u007f\u007f\u007f\u007fversion")] // erase a whole word
    public void Backspace_edits_the_line(string keystrokes)
    {
        var o = M.RunTyped(keystrokes, "version", TimeSpan.FromSeconds(20));
        Assert.True(o.Count == 1 && KernelLog.BannerText.IsMatch(o[0]), $"edited line did not run `version`:\n{o.Text}");
    }

    private KtapDocument RunSelftest(string command)
    {
        var o = _shared.Run(command, timeoutSeconds: 120);
        if (!Ktap.TryParse(o.ToList(), out var doc, out var error))
            Assert.Fail($"`{command}` output is not valid KTAP: {error!.Message}\n--- output ---\n{o.Text}");
        var last = o.LastOrDefault(l => l.Trim().Length > 0) ?? "";
        Assert.True(last.StartsWith("# Totals: ", StringComparison.Ordinal), $"`{command}` does not end with '# Totals:' but with '{last}'");
        Assert.NotNull(doc!.Totals);
        var failures = doc.Failures().ToList();
        Assert.True(failures.Count == 0 && doc.Totals!.Fail == 0,
            $"`{command}` has failures ({doc.Totals}):\n" +
            string.Join('\n', failures.Select(f => $"  {f.Path}: {string.Join(" | ", f.Test.Diagnostics)}")) +
            $"\n--- tree ---\n{doc.Describe()}");
        Assert.Null(doc.CheckTotals());
        return doc;
    }
}
