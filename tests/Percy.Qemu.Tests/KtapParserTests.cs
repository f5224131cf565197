using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>Host tests of the KTAP v1 parser (no QEMU).</summary>
public class KtapParserTests
{
    private static string K(params string[] lines) => string.Join("\n", lines);

    // What Linux 6.x KUnit prints for a single suite (kunit.py's test data, shortened).
    private const string KunitSuite = """
        KTAP version 1
        1..1
            KTAP version 1
            # Subtest: example
            # module: kunit_example_test
            1..4
            # example_simple_test: initializing
            ok 1 example_simple_test
            ok 2 example_skip_test # SKIP this test should be skipped
            # example_mark_skipped_test: initializing
            ok 3 example_mark_skipped_test # SKIP
                KTAP version 1
                # Subtest: example_params_test
                ok 1 example value 3
                ok 2 example value 2 # SKIP unsupported
            ok 4 example_params_test
        # example: pass:2 fail:0 skip:3 total:5
        # Totals: pass:2 fail:0 skip:3 total:5
        ok 1 example
        """;

    [Fact]
    public void Parses_kunit_style_nested_output()
    {
        var doc = Ktap.Parse(KunitSuite);

        Assert.Equal(1, doc.Version);
        Assert.Equal(1, doc.Root.Plan);
        var suite = Assert.Single(doc.Tests);
        Assert.Equal("example", suite.Name);
        Assert.Equal(KtapStatus.Pass, suite.Status);
        Assert.NotNull(suite.Subtests);
        Assert.Equal("example", suite.Subtests!.SubtestName);
        Assert.Equal(4, suite.Subtests.Plan);
        Assert.Contains("module: kunit_example_test", suite.Subtests.Diagnostics);

        var cases = suite.Subtests.Tests;
        Assert.Equal(new[] { 1, 2, 3, 4 }, cases.Select(c => c.Number));
        Assert.Equal(new[] { "example_simple_test", "example_skip_test", "example_mark_skipped_test", "example_params_test" },
            cases.Select(c => c.Name));
        Assert.Equal(new[] { "example_simple_test: initializing" }, cases[0].Diagnostics);
        Assert.Equal(KtapStatus.Skip, cases[1].Status);
        Assert.Equal(KtapDirective.Skip, cases[1].Directive);
        Assert.Equal("this test should be skipped", cases[1].Reason);
        Assert.Equal(KtapStatus.Skip, cases[2].Status);
        Assert.Null(cases[2].Reason);

        var param = cases[3].Subtests!;
        Assert.Null(param.Plan); // KUnit prints no plan for parameterised cases
        Assert.Equal(new[] { "example value 3", "example value 2" }, param.Tests.Select(t => t.Name));

        Assert.Equal(new KtapTotals(2, 0, 3, 5), doc.Totals);
        Assert.Equal(new KtapCounts(2, 0, 3, 0), doc.CountLeaves());
        Assert.Null(doc.CheckTotals());
        Assert.False(doc.HasFailures);
        Assert.Contains(doc.Leaves(), l => l.Path == "example.example_params_test.example value 2");
    }

    [Fact]
    public void Parses_the_spec_example_with_two_space_indents()
    {
        var doc = Ktap.Parse(K(
            "KTAP version 1",
            "1..1",
            "  KTAP version 1",
            "  1..3",
            "    KTAP version 1",
            "    1..1",
            "    # test_1: initializing test_1",
            "    ok 1 test_1",
            "  ok 1 example_test_1",
            "    KTAP version 1",
            "    1..2",
            "    ok 1 test_1 # SKIP test_1 skipped",
            "    ok 2 test_2",
            "  ok 2 example_test_2",
            "    KTAP version 1",
            "    1..3",
            "    ok 1 test_1",
            "    # test_2: FAIL",
            "    not ok 2 test_2",
            "    ok 3 test_3 # SKIP test_3 skipped",
            "  not ok 3 example_test_3",
            "not ok 1 main_test"));

        var main = Assert.Single(doc.Tests);
        Assert.Equal(KtapStatus.Fail, main.Status);
        Assert.False(main.Ok);
        Assert.Equal(3, main.Subtests!.Tests.Count);
        var t2 = main.Subtests.Tests[2].Subtests!.Tests[1];
        Assert.Equal("test_2", t2.Name);
        Assert.Equal(KtapStatus.Fail, t2.Status);
        Assert.Equal(new[] { "test_2: FAIL" }, t2.Diagnostics);

        Assert.Equal(new KtapCounts(3, 1, 2, 0), doc.CountLeaves());
        Assert.True(doc.HasFailures);
        Assert.Equal(
            new[] { "main_test", "main_test.example_test_3", "main_test.example_test_3.test_2" },
            doc.Failures().Select(f => f.Path));
        Assert.Null(doc.Totals);
        Assert.Equal("no '# Totals:' line", doc.CheckTotals());
    }

    [Fact]
    public void Percy_style_totals_at_the_end_belong_to_the_document()
    {
        var doc = Ktap.Parse(K(
            "KTAP version 1",
            "1..2",
            "    KTAP version 1",
            "    # Subtest: bitmap",
            "    1..2",
            "    ok 1 set_and_clear",
            "    ok 2 find_next",
            "ok 1 bitmap",
            "    KTAP version 1",
            "    # Subtest: percpu",
            "    1..1",
            "    ok 1 alloc # SKIP needs 2 cpus",
            "ok 2 percpu",
            "# Totals: pass:2 fail:0 skip:1"));

        Assert.Equal(new KtapTotals(2, 0, 1, null), doc.Totals);
        Assert.Null(doc.CheckTotals());
        Assert.Equal(new[] { "bitmap", "percpu" }, doc.Tests.Select(t => t.Name));
    }

    [Fact]
    public void Totals_that_disagree_with_the_results_are_reported()
    {
        var doc = Ktap.Parse(K("KTAP version 1", "1..2", "ok 1 a", "not ok 2 b", "# Totals: pass:2 fail:0 skip:0 total:2"));
        var problem = doc.CheckTotals();
        Assert.NotNull(problem);
        Assert.Contains("pass 2 vs 1", problem);
        Assert.Contains("fail 0 vs 1", problem);
    }

    [Theory]
    [InlineData("ok 1 a # SKIP", KtapStatus.Skip, KtapDirective.Skip, null)]
    [InlineData("not ok 1 a # SKIP no hardware", KtapStatus.Skip, KtapDirective.Skip, "no hardware")]
    [InlineData("ok 1 a # skip lower case", KtapStatus.Skip, KtapDirective.Skip, "lower case")]
    [InlineData("not ok 1 a # TODO later", KtapStatus.ExpectedFail, KtapDirective.Todo, "later")]
    [InlineData("not ok 1 a # XFAIL known", KtapStatus.ExpectedFail, KtapDirective.XFail, "known")]
    [InlineData("not ok 1 a # TIMEOUT 30 seconds", KtapStatus.Fail, KtapDirective.Timeout, "30 seconds")]
    [InlineData("not ok 1 a # ERROR oom", KtapStatus.Fail, KtapDirective.Error, "oom")]
    [InlineData("ok 1 a # rcode=0", KtapStatus.Pass, KtapDirective.Other, "rcode=0")]
    [InlineData("ok 1 - a", KtapStatus.Pass, KtapDirective.None, null)]
    [InlineData("ok 1 a", KtapStatus.Pass, KtapDirective.None, null)]
    [InlineData("not ok 1 a", KtapStatus.Fail, KtapDirective.None, null)]
    public void Directives(string line, KtapStatus status, KtapDirective directive, string? reason)
    {
        var t = Assert.Single(Ktap.Parse(K("KTAP version 1", "1..1", line)).Tests);
        Assert.Equal("a", t.Name);
        Assert.Equal(status, t.Status);
        Assert.Equal(directive, t.Directive);
        Assert.Equal(reason, t.Reason);
    }

    [Fact]
    public void Result_without_description_is_allowed()
    {
        var t = Assert.Single(Ktap.Parse(K("KTAP version 1", "1..1", "ok 1")).Tests);
        Assert.Equal("", t.Name);
    }

    [Fact]
    public void Unknown_lines_and_preamble_are_ignored_but_recorded()
    {
        var doc = Ktap.Parse(K(
            "percy> selftest",
            "[    1.000000] percy: starting",
            "KTAP version 1",
            "1..1",
            "[    1.000100] percy: warn: something unrelated",
            "    KTAP version 1",
            "    1..1",
            "random kernel chatter",
            "    ok 1 inner",
            "ok 1 outer",
            "",
            "# Totals: pass:1 fail:0 skip:0"));
        Assert.Equal(2, doc.PreambleLines);
        Assert.Equal(new[] { 5, 8 }, doc.UnknownLines.Select(u => u.Line));
        Assert.Equal("outer", Assert.Single(doc.Tests).Name);
        Assert.Null(doc.CheckTotals());
    }

    [Fact]
    public void Dmesg_timestamps_are_stripped_when_the_version_line_has_one()
    {
        var doc = Ktap.Parse(K(
            "[    0.500000] KTAP version 1",
            "[    0.500001] 1..1",
            "[    0.500002]     KTAP version 1",
            "[    0.500003]     1..1",
            "[    0.500004]     ok 1 case",
            "[    0.500005] ok 1 suite"));
        Assert.Equal("case", doc.Tests[0].Subtests!.Tests[0].Name);
    }

    [Fact]
    public void Carriage_returns_are_tolerated()
    {
        var doc = Ktap.Parse("KTAP version 1\r\n1..1\r\nok 1 a\r\n");
        Assert.Equal("a", Assert.Single(doc.Tests).Name);
    }

    [Fact]
    public void Tap14_style_subtest_without_nested_version_line()
    {
        var doc = Ktap.Parse(K(
            "TAP version 14",
            "1..1",
            "    # Subtest: suite",
            "    1..1",
            "    ok 1 case",
            "ok 1 suite"));
        Assert.Equal("suite", doc.Tests[0].Subtests!.SubtestName);
        Assert.Null(doc.Tests[0].Subtests!.Version);
    }

    [Fact]
    public void Empty_plan_is_valid()
    {
        var doc = Ktap.Parse(K("KTAP version 1", "1..0"));
        Assert.Empty(doc.Tests);
        Assert.Equal(0, doc.Root.Plan);
    }

    // ---- malformed input: always a KtapParseException with a line number and a reason ----

    private static KtapParseException Fails(string text)
    {
        var e = Assert.Throws<KtapParseException>(() => Ktap.Parse(text));
        Assert.False(Ktap.TryParse(text, out var doc, out var err));
        Assert.Null(doc);
        Assert.Equal(e.Message, err!.Message);
        return e;
    }

    [Fact]
    public void Plan_larger_than_results_is_truncation()
    {
        var e = Fails(K("KTAP version 1", "1..3", "ok 1 a", "ok 2 b"));
        Assert.Equal(2, e.Line);
        Assert.Contains("plan declares 3 test(s) but only 2 result(s)", e.Message);
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Plan_smaller_than_results()
    {
        var e = Fails(K("KTAP version 1", "1..1", "ok 1 a", "ok 2 b"));
        Assert.Contains("plan declares 1 test(s) but 2 results follow", e.Message);
    }

    [Fact]
    public void Numbering_must_be_sequential()
    {
        var e = Fails(K("KTAP version 1", "1..3", "ok 1 a", "ok 3 b", "ok 2 c"));
        Assert.Equal(4, e.Line);
        Assert.Contains("test number 3 out of sequence: expected 2", e.Message);
        Assert.Contains("> ok 3 b", e.Message);
    }

    [Fact]
    public void Numbering_must_start_at_one()
    {
        var e = Fails(K("KTAP version 1", "1..1", "ok 0 a"));
        Assert.Contains("must start at 1", e.Message);
    }

    [Fact]
    public void Numbering_restarts_in_each_nested_block()
    {
        var e = Fails(K("KTAP version 1", "1..1", "    KTAP version 1", "    1..1", "    ok 2 inner", "ok 1 outer"));
        Assert.Equal(5, e.Line);
    }

    [Fact]
    public void Output_truncated_inside_a_subtest()
    {
        var e = Fails(K("KTAP version 1", "1..1", "    KTAP version 1", "    1..2", "    ok 1 first"));
        Assert.Equal(4, e.Line);
        Assert.Contains("plan declares 2", e.Message);
    }

    [Fact]
    public void Output_truncated_before_the_parent_result()
    {
        var e = Fails(K("KTAP version 1", "1..1", "    KTAP version 1", "    # Subtest: suite", "    1..1", "    ok 1 first"));
        Assert.Equal(3, e.Line);
        Assert.Contains("subtest 'suite'", e.Message);
        Assert.Contains("never got a result line", e.Message);
    }

    [Fact]
    public void Output_truncated_after_the_version_line()
    {
        var e = Fails("KTAP version 1\n");
        Assert.Contains("neither a plan nor any results", e.Message);
    }

    [Fact]
    public void Two_subtest_blocks_without_a_result_between_them()
    {
        var e = Fails(K("KTAP version 1", "1..2",
            "    KTAP version 1", "    1..1", "    ok 1 x",
            "    KTAP version 1", "    1..1", "    ok 1 y",
            "ok 1 a", "ok 2 b"));
        Assert.Equal(6, e.Line);
        Assert.Contains("unexpected version line", e.Message);
        Assert.Contains("missing result line", e.Message);
    }

    [Fact]
    public void Subtests_closed_by_a_diagnostic_still_need_their_result_line()
    {
        var e = Fails(K("KTAP version 1", "1..2",
            "    KTAP version 1", "    1..1", "    ok 1 x",
            "  # stray diagnostic",
            "    KTAP version 1", "    1..1", "    ok 1 y",
            "ok 1 a", "ok 2 b"));
        Assert.Equal(7, e.Line);
        Assert.Contains("no result line of their own", e.Message);
    }

    [Fact]
    public void Nested_version_line_must_be_indented()
    {
        var e = Fails(K("KTAP version 1", "1..1", "KTAP version 1", "1..1", "ok 1 a", "ok 1 b"));
        Assert.Equal(3, e.Line);
        Assert.Contains("indented deeper", e.Message);
    }

    [Fact]
    public void Plan_after_results_is_rejected()
    {
        var e = Fails(K("KTAP version 1", "ok 1 a", "1..1"));
        Assert.Contains("plan line after test results", e.Message);
    }

    [Fact]
    public void Second_plan_is_rejected()
    {
        var e = Fails(K("KTAP version 1", "1..1", "1..1", "ok 1 a"));
        Assert.Contains("second plan line", e.Message);
    }

    [Theory]
    [InlineData("ok")]
    [InlineData("not ok")]
    [InlineData("ok first")]
    [InlineData("not ok -1 a")]
    public void Result_line_without_a_number(string line)
    {
        var e = Fails(K("KTAP version 1", "1..1", line));
        Assert.Equal(3, e.Line);
        Assert.Contains("malformed result line", e.Message);
    }

    [Fact]
    public void Huge_numbers_are_errors_not_overflows()
    {
        Assert.Contains("out of range", Fails(K("KTAP version 1", "1..99999999999999999999")).Message);
        Assert.Contains("out of range", Fails(K("KTAP version 1", "1..1", "ok 99999999999999999999 a")).Message);
    }

    [Fact]
    public void Unsupported_versions()
    {
        Assert.Contains("unsupported KTAP version 2", Fails(K("KTAP version 2", "1..0")).Message);
        Assert.Contains("unsupported TAP version 12", Fails(K("TAP version 12", "1..0")).Message);
    }

    [Theory]
    [InlineData("# Totals: pass:1 fail:0", "lacks 'skip:N'")]
    [InlineData("# Totals: pass:one fail:0 skip:0", "is not a number")]
    [InlineData("# Totals: pass fail skip", "expected name:number")]
    [InlineData("# Totals: pass:1 pass:1 fail:0 skip:0", "given twice")]
    public void Malformed_totals(string totals, string message)
    {
        var e = Fails(K("KTAP version 1", "1..1", "ok 1 a", totals));
        Assert.Equal(4, e.Line);
        Assert.Contains(message, e.Message);
    }

    [Fact]
    public void Bail_out_is_an_error()
    {
        Assert.Contains("bailed out: no memory", Fails(K("KTAP version 1", "1..2", "ok 1 a", "Bail out! no memory")).Message);
    }

    [Fact]
    public void Inconsistent_indentation()
    {
        var e = Fails(K("KTAP version 1", "1..1",
            "    KTAP version 1", "    1..1", "    ok 1 x",
            "  ok 1 y"));
        Assert.Equal(6, e.Line);
        Assert.Contains("inconsistent indentation", e.Message);
    }

    [Fact]
    public void Line_less_indented_than_the_top_level()
    {
        var e = Fails(K("  KTAP version 1", "  1..1", "  ok 1 a", "ok 2 b"));
        Assert.Equal(4, e.Line);
        Assert.Contains("indented less than the top-level", e.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("\n\n\n")]
    [InlineData("hello world\nthis is not ktap")]
    [InlineData("percy: panic: page fault\n\u0000\u0001\u00ff\u001b[2J")]
    [InlineData("shell: error: unknown command 'selftest' (type 'help')")]
    [InlineData("KTAPversion 1\n1..1\nok 1 a")]
    [InlineData("percy: KTAP version 1\n1..1\nok 1 a")]
    public void Garbage_has_no_version_line(string text)
    {
        var e = Fails(text);
        Assert.Equal(0, e.Line);
        Assert.Contains("no 'KTAP version 1' line", e.Message);
    }

    [Fact]
    public void Results_without_a_version_line_hint_at_truncation()
    {
        Assert.Contains("truncated at the start", Fails(K("1..1", "ok 1 a")).Message);
    }

    [Fact]
    public void Random_input_never_throws_anything_but_parse_errors()
    {
        var rng = new Random(1234);
        string[] pieces = { "KTAP version 1", "1..", "1..2", "ok ", "not ok ", "1", "2", " # SKIP", "# Totals: pass:1 fail:0 skip:0",
            "    ", "  ", "\t", "# Subtest: x", "Bail out!", "\n", "\n", "\n", "name", "#", "\u0000", "\u00e9", "TAP version 14" };
        for (int i = 0; i < 3000; i++)
        {
            var sb = new System.Text.StringBuilder();
            int n = rng.Next(1, 40);
            for (int j = 0; j < n; j++) sb.Append(pieces[rng.Next(pieces.Length)]);
            var text = sb.ToString();
            try
            {
                var doc = Ktap.Parse(text);
                _ = doc.Describe();
                _ = doc.CheckTotals();
            }
            catch (KtapParseException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"input {i} threw {e.GetType().Name}: {e.Message}\n---\n{text}");
            }
        }
    }

    [Fact]
    public void Null_input_is_an_argument_error()
    {
        Assert.Throws<ArgumentNullException>(() => Ktap.Parse((string)null!));
    }
}
