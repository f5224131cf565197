// In-kernel tests, reported in KTAP v1 the way Linux's KUnit prints them: one subtest
// per suite, a result line per case, per-suite and overall totals. Suites register
// their cases at boot; `selftest [suite]` runs them on the live kernel.
using Percy.Kernel.Shell;

namespace Percy.Kernel.SelfTest
{
    internal unsafe struct TestCase
    {
        public string Suite;
        public string Name;
        public delegate*<TestContext*, void> Run;
    }

    internal unsafe struct TestContext
    {
        public bool Failed;
        public string SkipReason;
        public int Checks;

        // Records a failed expectation as a KTAP diagnostic line inside the suite.
        public void Expect(bool condition, string what)
        {
            Checks++;
            if (condition) return;
            Failed = true;
            Console.Console.WriteLine($"    # expectation failed: {what}");
        }

        public void ExpectEqual(ulong actual, ulong expected, string what)
        {
            Checks++;
            if (actual == expected) return;
            Failed = true;
            Console.Console.WriteLine($"    # expectation failed: {what}: got {actual}, expected {expected}");
        }

        public void Skip(string reason) => SkipReason = reason;

        // A KTAP diagnostic line inside the suite: what the case saw.
        public void Note(TextLine text) => Console.Console.WriteLine($"    # {text}");
    }

    internal static unsafe class SelfTests
    {
        const int MaxCases = 256;
        static TestCase[] s_cases;
        static int s_count;

        public static void Register(string suite, string name, delegate*<TestContext*, void> run)
        {
            if (s_cases == null) s_cases = new TestCase[MaxCases];
            if (s_count == MaxCases) Panic.Fail("selftest: case table full");
            s_cases[s_count].Suite = suite;
            s_cases[s_count].Name = name;
            s_cases[s_count].Run = run;
            s_count++;
        }

        public static void RegisterCommand() =>
            Shell.Shell.Register("selftest", "selftest [suite]", "run in-kernel tests (KTAP output)", &Command);

        static void Command(ShellArguments* args)
        {
            if (args->Count > 2)
            {
                Shell.Shell.Error(args, "usage: selftest [suite]");
                return;
            }
            int suites = 0;
            for (int i = 0; i < s_count; i++)
                if (IsFirstOfSuite(i) && (args->Count == 1 || args->Is(1, s_cases[i].Suite))) suites++;
            if (suites == 0)
            {
                TextLine line = default;
                line.AppendLiteral("selftest: error: no suite named '");
                line.AppendBytes(args->Word(1), args->WordLength(1));
                line.AppendLiteral("' (suites: ");
                for (int i = 0; i < s_count; i++)
                {
                    if (!IsFirstOfSuite(i)) continue;
                    if (i > 0) line.Append(' ');
                    line.AppendLiteral(s_cases[i].Suite);
                }
                line.AppendLiteral(")");
                Console.Console.WriteLine(line);
                return;
            }
            RunSuites(args, suites);
        }

        static void RunSuites(ShellArguments* args, int suites)
        {
            int pass = 0, fail = 0, skip = 0, suiteNumber = 0;
            Console.Console.WriteLine("KTAP version 1");
            Console.Console.WriteLine($"1..{suites}");
            for (int first = 0; first < s_count; first++)
            {
                if (!IsFirstOfSuite(first) || (args->Count == 2 && !args->Is(1, s_cases[first].Suite))) continue;
                string suite = s_cases[first].Suite;
                int cases = 0;
                for (int i = first; i < s_count; i++) if (s_cases[i].Suite == suite) cases++;
                Console.Console.WriteLine("    KTAP version 1");
                Console.Console.WriteLine($"    # Subtest: {suite}");
                Console.Console.WriteLine($"    1..{cases}");
                int suitePass = 0, suiteFail = 0, suiteSkip = 0, caseNumber = 0;
                for (int i = first; i < s_count; i++)
                {
                    if (s_cases[i].Suite != suite) continue;
                    TestContext context = default;
                    s_cases[i].Run(&context);
                    caseNumber++;
                    if (context.SkipReason != null)
                    {
                        suiteSkip++;
                        Console.Console.WriteLine($"    ok {caseNumber} {s_cases[i].Name} # SKIP {context.SkipReason}");
                    }
                    else if (context.Failed || context.Checks == 0)
                    {
                        // A case that checked nothing proves nothing: it fails.
                        if (context.Checks == 0) Console.Console.WriteLine("    # expectation failed: the case made no checks");
                        suiteFail++;
                        Console.Console.WriteLine($"    not ok {caseNumber} {s_cases[i].Name}");
                    }
                    else
                    {
                        suitePass++;
                        Console.Console.WriteLine($"    ok {caseNumber} {s_cases[i].Name}");
                    }
                }
                suiteNumber++;
                Console.Console.WriteLine($"# {suite}: pass:{suitePass} fail:{suiteFail} skip:{suiteSkip} total:{cases}");
                Console.Console.WriteLine($"{(suiteFail == 0 ? "ok" : "not ok")} {suiteNumber} {suite}");
                pass += suitePass;
                fail += suiteFail;
                skip += suiteSkip;
            }
            Console.Console.WriteLine($"# Totals: pass:{pass} fail:{fail} skip:{skip}");
        }

        static bool IsFirstOfSuite(int i)
        {
            for (int k = 0; k < i; k++) if (s_cases[k].Suite == s_cases[i].Suite) return false;
            return true;
        }
    }
}
