using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Harness;

// KTAP v1 parser (Documentation/dev-tools/ktap.rst in Linux), as KUnit prints it:
//
//   KTAP version 1
//   1..1
//       KTAP version 1
//       # Subtest: example
//       1..2
//       ok 1 example_simple_test
//       ok 2 example_skip_test # SKIP reason
//   # example: pass:1 fail:0 skip:1 total:2
//   # Totals: pass:1 fail:0 skip:1 total:2
//   ok 1 example
//
// Pure logic: no I/O. Malformed input gives a KtapParseException (or TryParse's error)
// naming the line; nothing else escapes.
//
// Rules, following the spec and KUnit's own parser (tools/testing/kunit/kunit_parser.py):
// * Lines before the first version line are ignored (boot log, shell echo). A version line
//   may carry a dmesg timestamp prefix ("[    1.234567] KTAP version 1"); it is then
//   stripped from every line that has one.
// * A nested test is a block indented deeper than its parent (KUnit uses 4 spaces, the spec
//   2; any consistent depth is accepted) that starts with a version line (or, TAP14 style,
//   a "# Subtest:" line, a plan or a result) and is closed by the parent's result line.
// * Result numbers start at 1 and rise by 1 within a block; a plan, when present, must
//   match the number of results. A missing plan is allowed (the spec allows it) unless the
//   block has no results at all.
// * Diagnostic lines ("# ...") before a result line belong to that test; those after the
//   last result belong to the block. "# Totals: pass:N fail:N skip:N [total:N]" is parsed:
//   before a result line it belongs to that test (KUnit prints one per suite), after the
//   last result to the block (Percy's selftest prints one at the very end).
// * Unknown lines (kernel log lines and the like) are allowed anywhere and recorded; they
//   never close a block or change a result.

/// <summary>Outcome of one test.</summary>
public enum KtapStatus
{
    Pass,
    Fail,
    Skip,
    /// <summary>"not ok" with a TODO or XFAIL directive: an expected failure.</summary>
    ExpectedFail,
}

public enum KtapDirective
{
    None,
    Skip,
    Todo,
    XFail,
    Timeout,
    Error,
    /// <summary>Text after '#' that is not a known directive (plain diagnostic data).</summary>
    Other,
}

/// <summary>One result line and what belongs to it.</summary>
public sealed class KtapTest
{
    public required int Number { get; init; }
    public required string Name { get; init; }
    /// <summary>True for "ok", false for "not ok".</summary>
    public required bool Ok { get; init; }
    public required KtapStatus Status { get; init; }
    public required KtapDirective Directive { get; init; }
    /// <summary>Diagnostic data after the directive keyword (or after '#' if no directive).</summary>
    public string? Reason { get; init; }
    /// <summary>Diagnostic lines ("# ...", without the '#') printed just before the result.</summary>
    public required IReadOnlyList<string> Diagnostics { get; init; }
    /// <summary>Nested results, or null for a leaf test.</summary>
    public KtapBlock? Subtests { get; init; }
    /// <summary>1-based line number of the result line in the input.</summary>
    public required int Line { get; init; }
    /// <summary>A "# Totals:" line printed just before this result (KUnit prints one per suite).</summary>
    public KtapTotals? Totals { get; init; }

    public bool IsLeaf => Subtests is null || Subtests.Tests.Count == 0;

    public override string ToString() =>
        $"{(Ok ? "ok" : "not ok")} {Number} {Name}{(Directive is KtapDirective.None ? "" : $" # {Directive} {Reason}")}";
}

/// <summary>A "KTAP version 1 / 1..N / results" block: the document or a subtest list.</summary>
public sealed class KtapBlock
{
    /// <summary>The number in the version line, or null when a nested block has none (TAP14 style).</summary>
    public int? Version { get; internal set; }
    /// <summary>"KTAP" or "TAP", or null when the block has no version line.</summary>
    public string? Flavor { get; internal set; }
    /// <summary>N of the "1..N" plan, or null if the block has no plan.</summary>
    public int? Plan { get; internal set; }
    /// <summary>The name given by a "# Subtest: name" header line, if any.</summary>
    public string? SubtestName { get; internal set; }
    public int Indent { get; internal set; }
    /// <summary>1-based line number where the block starts.</summary>
    public int Line { get; internal set; }
    public List<KtapTest> Tests { get; } = new();
    /// <summary>Diagnostics in the header (before the plan) and after the last result.</summary>
    public List<string> Diagnostics { get; } = new();
    /// <summary>A "# Totals:" line printed after the block's last result, if any.</summary>
    public KtapTotals? Totals { get; internal set; }
}

/// <summary>Counters from a "# Totals: pass:N fail:N skip:N total:N" line.</summary>
public sealed record KtapTotals(int Pass, int Fail, int Skip, int? Total)
{
    public override string ToString() =>
        $"pass:{Pass} fail:{Fail} skip:{Skip}{(Total is int t ? $" total:{t}" : "")}";
}

/// <summary>Counts over leaf tests.</summary>
public readonly record struct KtapCounts(int Pass, int Fail, int Skip, int ExpectedFail)
{
    public int Total => Pass + Fail + Skip + ExpectedFail;
    public override string ToString() => $"pass:{Pass} fail:{Fail} skip:{Skip} xfail:{ExpectedFail} total:{Total}";
}

public sealed record KtapUnknownLine(int Line, string Text);

/// <summary>A parsed KTAP document.</summary>
public sealed class KtapDocument
{
    public required KtapBlock Root { get; init; }
    /// <summary>Lines inside the KTAP output that are not KTAP (log lines etc.).</summary>
    public required IReadOnlyList<KtapUnknownLine> UnknownLines { get; init; }
    /// <summary>Number of input lines before the first version line (ignored).</summary>
    public required int PreambleLines { get; init; }

    public int Version => Root.Version ?? 0;
    public IReadOnlyList<KtapTest> Tests => Root.Tests;

    /// <summary>
    /// The "# Totals:" line for the whole output: the one after the last top-level result
    /// (Percy's form), else the one attached to the only top-level test (KUnit's form for a
    /// single suite), else null.
    /// </summary>
    public KtapTotals? Totals => Root.Totals ?? (Root.Tests.Count == 1 ? Root.Tests[0].Totals : null);

    /// <summary>Every test in pre-order (a parent before its subtests), with dotted paths.</summary>
    public IEnumerable<(string Path, KtapTest Test)> AllTests() => Walk(Root, "");

    /// <summary>Leaf tests (no subtests) with dotted paths such as "suite.case".</summary>
    public IEnumerable<(string Path, KtapTest Test)> Leaves() => AllTests().Where(t => t.Test.IsLeaf);

    /// <summary>Tests (at any level) whose status is Fail.</summary>
    public IEnumerable<(string Path, KtapTest Test)> Failures() => AllTests().Where(t => t.Test.Status == KtapStatus.Fail);

    public bool HasFailures => Failures().Any();

    public KtapCounts CountLeaves()
    {
        int pass = 0, fail = 0, skip = 0, xfail = 0;
        foreach (var (_, t) in Leaves())
        {
            switch (t.Status)
            {
                case KtapStatus.Pass: pass++; break;
                case KtapStatus.Fail: fail++; break;
                case KtapStatus.Skip: skip++; break;
                case KtapStatus.ExpectedFail: xfail++; break;
            }
        }
        return new KtapCounts(pass, fail, skip, xfail);
    }

    /// <summary>
    /// Null when the Totals line agrees with the leaf counts (expected failures count as
    /// passes, as KUnit has none), else a message saying how they differ. Also an error when
    /// there is no Totals line.
    /// </summary>
    public string? CheckTotals()
    {
        var totals = Totals;
        if (totals is null) return "no '# Totals:' line";
        var c = CountLeaves();
        var problems = new List<string>();
        if (totals.Pass != c.Pass + c.ExpectedFail) problems.Add($"pass {totals.Pass} vs {c.Pass + c.ExpectedFail} passing leaf tests");
        if (totals.Fail != c.Fail) problems.Add($"fail {totals.Fail} vs {c.Fail} failing leaf tests");
        if (totals.Skip != c.Skip) problems.Add($"skip {totals.Skip} vs {c.Skip} skipped leaf tests");
        if (totals.Total is int t && t != c.Total) problems.Add($"total {t} vs {c.Total} leaf tests");
        return problems.Count == 0 ? null : $"Totals ({totals}) disagree with the results: {string.Join("; ", problems)}";
    }

    /// <summary>A readable tree, one test per line, for assertion messages.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        void Block(KtapBlock b, int depth)
        {
            foreach (var t in b.Tests)
            {
                sb.Append(' ', depth * 2).Append(t.Status.ToString().ToUpperInvariant()).Append(' ').Append(t.Name);
                if (t.Reason is { Length: > 0 }) sb.Append(" (").Append(t.Reason).Append(')');
                sb.Append('\n');
                foreach (var d in t.Diagnostics) sb.Append(' ', depth * 2 + 4).Append("# ").Append(d).Append('\n');
                if (t.Subtests is not null) Block(t.Subtests, depth + 1);
            }
        }
        Block(Root, 0);
        if (Totals is not null) sb.Append("# Totals: ").Append(Totals).Append('\n');
        return sb.ToString();
    }

    private static IEnumerable<(string, KtapTest)> Walk(KtapBlock b, string prefix)
    {
        foreach (var t in b.Tests)
        {
            var path = prefix.Length == 0 ? t.Name : prefix + "." + t.Name;
            yield return (path, t);
            if (t.Subtests is not null)
                foreach (var c in Walk(t.Subtests, path))
                    yield return c;
        }
    }
}

/// <summary>Malformed KTAP. <see cref="Line"/> is 1-based (0 when the error is about the whole input).</summary>
public sealed class KtapParseException : Exception
{
    public int Line { get; }
    public string? LineText { get; }
    public string Reason { get; }

    public KtapParseException(int line, string? lineText, string reason)
        : base(Format(line, lineText, reason))
    {
        Line = line;
        LineText = lineText;
        Reason = reason;
    }

    private static string Format(int line, string? text, string reason) =>
        line > 0
            ? $"KTAP parse error at line {line}: {reason}" + (text is null ? "" : $"\n  > {text}")
            : $"KTAP parse error: {reason}";
}

public static class Ktap
{
    /// <summary>Parses KTAP text; throws <see cref="KtapParseException"/> if it is malformed.</summary>
    public static KtapDocument Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Parse(text.Split('\n'));
    }

    /// <summary>Parses KTAP lines; throws <see cref="KtapParseException"/> if they are malformed.</summary>
    public static KtapDocument Parse(IEnumerable<string> lines)
    {
        ArgumentNullException.ThrowIfNull(lines);
        try
        {
            return new Parser(lines.Select(l => l ?? "").ToList()).ParseDocument();
        }
        catch (KtapParseException)
        {
            throw;
        }
        catch (Exception e)
        {
            // A bug in the parser must still come out as a parse error, not a crash.
            throw new KtapParseException(0, null, $"internal parser error ({e.GetType().Name}: {e.Message})");
        }
    }

    public static bool TryParse(string text, out KtapDocument? document, out KtapParseException? error) =>
        TryParse((text ?? "").Split('\n'), out document, out error);

    public static bool TryParse(IEnumerable<string> lines, out KtapDocument? document, out KtapParseException? error)
    {
        try
        {
            document = Parse(lines);
            error = null;
            return true;
        }
        catch (KtapParseException e)
        {
            document = null;
            error = e;
            return false;
        }
    }

    private enum Kind { Blank, Version, Plan, Result, Diagnostic, BailOut, Unknown }

    private sealed record Token(int Line, string Text, int Indent, Kind Kind, string Content);

    private sealed class Parser
    {
        private static readonly Regex VersionRe = new(@"^(?<flavor>KTAP|TAP) version (?<n>\d+)$", RegexOptions.CultureInvariant);
        private static readonly Regex FirstVersionRe = new(@"^(?<prefix>.*?)(?<flavor>KTAP|TAP) version (?<n>\d+)\s*$", RegexOptions.CultureInvariant);
        private static readonly Regex TimestampRe = new(@"^\[\s*\d+\.\d+\] ?", RegexOptions.CultureInvariant);
        private static readonly Regex PlanRe = new(@"^1\.\.(?<n>\d+)(?:\s*(?:#.*)?)?$", RegexOptions.CultureInvariant);
        private static readonly Regex ResultStartRe = new(@"^(?:ok|not ok)(?:\s|$)", RegexOptions.CultureInvariant);
        private static readonly Regex ResultRe = new(@"^(?<res>ok|not ok)\s+(?<num>\d+)(?:\s+(?<desc>[^#]*?))?\s*(?:#\s*(?<dir>.*?))?\s*$", RegexOptions.CultureInvariant);
        private static readonly Regex TotalsRe = new(@"^Totals:\s*(?<rest>.*)$", RegexOptions.CultureInvariant);
        private static readonly Regex SubtestRe = new(@"^Subtest:\s*(?<name>.*?)\s*$", RegexOptions.CultureInvariant);

        private readonly List<string> _lines;
        private readonly List<KtapUnknownLine> _unknown = new();
        private List<Token> _tokens = new();
        private int _pos;

        public Parser(List<string> lines) => _lines = lines;

        public KtapDocument ParseDocument()
        {
            // Find the first version line; everything before it is preamble.
            int start = -1;
            string prefix = "";
            for (int i = 0; i < _lines.Count; i++)
            {
                var m = FirstVersionRe.Match(Clean(_lines[i]));
                if (!m.Success) continue;
                var p = m.Groups["prefix"].Value;
                if (p.Trim().Length == 0 || TimestampRe.Match(p) is { Success: true } tm && p[tm.Length..].Trim().Length == 0)
                {
                    start = i;
                    prefix = p;
                    break;
                }
            }
            if (start < 0)
            {
                var hint = _lines.Any(l => ResultStartRe.IsMatch(Clean(l).TrimStart()))
                    ? " (found result lines but no version line: output truncated at the start?)"
                    : "";
                throw new KtapParseException(0, null, $"no 'KTAP version 1' line found in {_lines.Count} line(s) of input{hint}");
            }

            bool stripTimestamps = TimestampRe.IsMatch(prefix);
            for (int i = start; i < _lines.Count; i++)
            {
                var text = Clean(_lines[i]);
                if (stripTimestamps && TimestampRe.Match(text) is { Success: true } tm) text = text[tm.Length..];
                _tokens.Add(Tokenize(i + 1, text));
            }

            var first = _tokens[0];
            var root = ParseBlock(first.Indent, isRoot: true);

            // ParseBlock at the root only stops at end of input or at a KTAP line less
            // indented than the root's version line.
            if (_pos < _tokens.Count)
            {
                var t = _tokens[_pos];
                throw Error(t, $"line is indented less than the top-level version line at line {first.Line}");
            }

            return new KtapDocument { Root = root, UnknownLines = _unknown, PreambleLines = start };
        }

        private static string Clean(string s) => s.TrimEnd('\r', '\n', ' ', '\t');

        private static Token Tokenize(int line, string text)
        {
            int indent = 0, i = 0;
            for (; i < text.Length; i++)
            {
                if (text[i] == ' ') indent++;
                else if (text[i] == '\t') indent = (indent / 8 + 1) * 8;
                else break;
            }
            var content = text[i..];
            Kind kind;
            if (content.Length == 0) kind = Kind.Blank;
            else if (VersionRe.IsMatch(content)) kind = Kind.Version;
            else if (PlanRe.IsMatch(content)) kind = Kind.Plan;
            else if (ResultStartRe.IsMatch(content)) kind = Kind.Result;
            else if (content[0] == '#') kind = Kind.Diagnostic;
            else if (content.StartsWith("Bail out!", StringComparison.Ordinal)) kind = Kind.BailOut;
            else kind = Kind.Unknown;
            return new Token(line, text, indent, kind, content);
        }

        private static KtapParseException Error(Token t, string reason) => new(t.Line, t.Text, reason);

        private static bool IsSubtestHeader(Token t) =>
            t.Kind == Kind.Diagnostic && SubtestRe.IsMatch(DiagText(t));

        private static string DiagText(Token t) => t.Content.Length > 1 ? t.Content[1..].Trim() : "";

        private static bool StartsBlock(Token t) =>
            t.Kind is Kind.Version or Kind.Plan or Kind.Result || IsSubtestHeader(t);

        private KtapBlock ParseBlock(int indent, bool isRoot)
        {
            var startTok = _tokens[_pos];
            var block = new KtapBlock { Indent = indent, Line = startTok.Line };

            if (startTok.Kind == Kind.Version)
            {
                var m = VersionRe.Match(startTok.Content);
                block.Flavor = m.Groups["flavor"].Value;
                if (!int.TryParse(m.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var v))
                    throw Error(startTok, "version number out of range");
                block.Version = v;
                if (block.Flavor == "KTAP" && v != 1)
                    throw Error(startTok, $"unsupported KTAP version {v} (only version 1 is known)");
                if (block.Flavor == "TAP" && v is not (13 or 14))
                    throw Error(startTok, $"unsupported TAP version {v} (13 and 14 are accepted)");
                _pos++;
            }

            var pendingDiags = new List<string>();
            KtapBlock? pendingSub = null;
            KtapTotals? pendingTotals = null;
            Token? planTok = null;
            int expected = 1;

            while (_pos < _tokens.Count)
            {
                var t = _tokens[_pos];
                switch (t.Kind)
                {
                    case Kind.Blank:
                        _pos++;
                        continue;
                    case Kind.Unknown:
                        _unknown.Add(new KtapUnknownLine(t.Line, t.Text));
                        _pos++;
                        continue;
                    case Kind.BailOut:
                        throw Error(t, "test run bailed out: " + t.Content["Bail out!".Length..].Trim());
                }

                if (t.Indent < indent) break; // closes this block (the parent's line)

                if (t.Indent > indent)
                {
                    if (pendingSub is not null && t.Indent != pendingSub.Indent && StartsBlock(t))
                        throw Error(t, $"inconsistent indentation: {t.Indent} spaces, but the subtests above are indented {pendingSub.Indent} and this block {indent}");
                    if (StartsBlock(t))
                    {
                        if (pendingSub is not null)
                            throw Error(t, $"the subtests starting at line {pendingSub.Line} have no result line of their own before new subtests start");
                        pendingSub = ParseBlock(t.Indent, isRoot: false);
                        continue;
                    }
                    // A deeper-indented diagnostic that does not start a block: keep it.
                    if (t.Kind == Kind.Diagnostic) pendingDiags.Add(DiagText(t));
                    _pos++;
                    continue;
                }

                // Same indentation as this block.
                switch (t.Kind)
                {
                    case Kind.Version:
                        throw Error(t, $"unexpected version line at the indentation of the block that starts at line {block.Line} " +
                                       "(a missing result line, or nested tests not indented deeper than their parent)");

                    case Kind.Plan:
                    {
                        if (planTok is not null)
                            throw Error(t, $"second plan line (the first is at line {planTok.Line})");
                        if (block.Tests.Count > 0 || pendingSub is not null)
                            throw Error(t, "plan line after test results (KTAP puts the plan right after the version line)");
                        var m = PlanRe.Match(t.Content);
                        if (!int.TryParse(m.Groups["n"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                            throw Error(t, "plan count out of range");
                        block.Plan = n;
                        planTok = t;
                        // Diagnostics before the plan are header lines ("# Subtest:", "# module:").
                        block.Diagnostics.AddRange(pendingDiags);
                        pendingDiags.Clear();
                        _pos++;
                        continue;
                    }

                    case Kind.Diagnostic:
                    {
                        var text = DiagText(t);
                        var tm = TotalsRe.Match(text);
                        if (tm.Success)
                        {
                            pendingTotals = ParseTotals(t, tm.Groups["rest"].Value);
                        }
                        else if (SubtestRe.Match(text) is { Success: true } sm && block.Tests.Count == 0 && pendingSub is null && block.SubtestName is null)
                        {
                            block.SubtestName = sm.Groups["name"].Value;
                        }
                        else
                        {
                            pendingDiags.Add(text);
                        }
                        _pos++;
                        continue;
                    }

                    case Kind.Result:
                    {
                        var test = ParseResult(t, expected, pendingDiags, pendingSub, pendingTotals);
                        block.Tests.Add(test);
                        pendingTotals = null;
                        expected++;
                        pendingDiags = new List<string>();
                        pendingSub = null;
                        _pos++;
                        continue;
                    }
                }
                _pos++; // not reached
            }

            if (pendingSub is not null)
            {
                var what = pendingSub.SubtestName is { } sn ? $"subtest '{sn}'" : "subtests";
                throw new KtapParseException(pendingSub.Line, _tokens.FirstOrDefault(x => x.Line == pendingSub.Line)?.Text,
                    $"the {what} starting here never got a result line (output truncated?)");
            }

            block.Diagnostics.AddRange(pendingDiags);
            block.Totals = pendingTotals;

            if (block.Plan is int plan && plan != block.Tests.Count)
            {
                throw new KtapParseException(planTok!.Line, planTok.Text,
                    block.Tests.Count < plan
                        ? $"plan declares {plan} test(s) but only {block.Tests.Count} result(s) follow (output truncated?)"
                        : $"plan declares {plan} test(s) but {block.Tests.Count} results follow");
            }
            if (block.Plan is null && block.Tests.Count == 0)
            {
                throw new KtapParseException(startTok.Line, startTok.Text,
                    "block has neither a plan nor any results (output truncated?)");
            }
            return block;
        }

        private static KtapTest ParseResult(Token t, int expected, List<string> diags, KtapBlock? subtests, KtapTotals? totals)
        {
            var m = ResultRe.Match(t.Content);
            if (!m.Success)
                throw Error(t, "malformed result line: expected '<ok|not ok> <number> [<description>] [# <directive> ...]'");
            if (!int.TryParse(m.Groups["num"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var num))
                throw Error(t, "test number out of range");
            if (num != expected)
                throw Error(t, expected == 1
                    ? $"test numbers must start at 1, found {num}"
                    : $"test number {num} out of sequence: expected {expected}");

            bool ok = m.Groups["res"].Value == "ok";
            var name = m.Groups["desc"].Success ? m.Groups["desc"].Value.Trim() : "";
            if (name.StartsWith("- ", StringComparison.Ordinal)) name = name[2..].TrimStart(); // TAP style "ok 1 - name"

            var directive = KtapDirective.None;
            string? reason = null;
            if (m.Groups["dir"].Success)
            {
                var dirText = m.Groups["dir"].Value.Trim();
                var sp = dirText.IndexOfAny(new[] { ' ', '\t' });
                var word = (sp < 0 ? dirText : dirText[..sp]).ToUpperInvariant();
                var rest = sp < 0 ? "" : dirText[(sp + 1)..].Trim();
                directive = word switch
                {
                    _ when word.StartsWith("SKIP", StringComparison.Ordinal) => KtapDirective.Skip,
                    "TODO" => KtapDirective.Todo,
                    "XFAIL" => KtapDirective.XFail,
                    "TIMEOUT" => KtapDirective.Timeout,
                    "ERROR" => KtapDirective.Error,
                    "" => KtapDirective.None,
                    _ => KtapDirective.Other,
                };
                reason = directive == KtapDirective.Other ? dirText : rest;
                if (reason.Length == 0) reason = null;
            }

            var status = directive switch
            {
                KtapDirective.Skip => KtapStatus.Skip,
                KtapDirective.Todo or KtapDirective.XFail when !ok => KtapStatus.ExpectedFail,
                _ => ok ? KtapStatus.Pass : KtapStatus.Fail,
            };

            return new KtapTest
            {
                Number = num,
                Name = name,
                Ok = ok,
                Status = status,
                Directive = directive,
                Reason = reason,
                Diagnostics = diags,
                Subtests = subtests,
                Totals = totals,
                Line = t.Line,
            };
        }

        private static KtapTotals ParseTotals(Token t, string rest)
        {
            var values = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var part in rest.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries))
            {
                var colon = part.IndexOf(':');
                if (colon <= 0)
                    throw Error(t, $"malformed Totals field '{part}': expected name:number");
                var key = part[..colon];
                if (!int.TryParse(part[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var v))
                    throw Error(t, $"malformed Totals field '{part}': '{part[(colon + 1)..]}' is not a number");
                if (!values.TryAdd(key, v))
                    throw Error(t, $"Totals field '{key}' given twice");
            }
            foreach (var required in new[] { "pass", "fail", "skip" })
                if (!values.ContainsKey(required))
                    throw Error(t, $"Totals line lacks '{required}:N'");
            int? total = values.TryGetValue("total", out var tt) ? tt : null;
            return new KtapTotals(values["pass"], values["fail"], values["skip"], total);
        }
    }
}
