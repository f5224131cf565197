// Self-tests of the kernel core: the runtime as ILC compiled it, formatting, the
// shell's line handling, interrupts and the clock, exercised on the real machine.
using Percy.Kernel.Arch;
using Percy.Kernel.Shell;

namespace Percy.Kernel.SelfTest
{
    internal static unsafe class CoreTests
    {
        public static void Register()
        {
            SelfTests.Register("runtime", "objects_are_zeroed_and_distinct", &ObjectsAreZeroedAndDistinct);
            SelfTests.Register("runtime", "arrays_have_length", &ArraysHaveLength);
            SelfTests.Register("runtime", "reference_statics_initialised", &ReferenceStaticsInitialised);
            SelfTests.Register("runtime", "string_equality", &StringEquality);
            SelfTests.Register("format", "decimal", &FormatDecimal);
            SelfTests.Register("format", "hex_and_padding", &FormatHex);
            SelfTests.Register("format", "truncates_at_capacity", &FormatTruncates);
            SelfTests.Register("shell", "line_editing", &LineEditing);
            SelfTests.Register("shell", "escape_sequences_dropped", &EscapeSequences);
            SelfTests.Register("shell", "word_split", &WordSplit);
            SelfTests.Register("interrupts", "breakpoint_returns", &BreakpointReturns);
            SelfTests.Register("interrupts", "all_vectors_present", &AllVectorsPresent);
            SelfTests.Register("clock", "tsc_calibrated", &TscCalibrated);
            SelfTests.Register("clock", "time_advances", &TimeAdvances);
        }

        sealed class Box { public long Value; public Box Next; }
        static Box s_keep;

        static void ObjectsAreZeroedAndDistinct(TestContext* t)
        {
            var a = new Box();
            var b = new Box { Next = a };
            s_keep = b;                              // escapes: must really come from the heap
            t->Expect(a != b, "two objects are distinct");
            t->ExpectEqual((ulong)a.Value, 0, "new object field");
            t->Expect(s_keep.Next == a, "reference field round-trips");
        }

        static void ArraysHaveLength(TestContext* t)
        {
            var numbers = new int[37];
            numbers[36] = 5;
            t->ExpectEqual((ulong)numbers.Length, 37, "array length");
            t->ExpectEqual((ulong)numbers[36], 5, "last element");
            t->ExpectEqual((ulong)numbers[0], 0, "zeroed element");
        }

        static void ReferenceStaticsInitialised(TestContext* t)
        {
            s_keep = new Box { Value = 42 };
            t->ExpectEqual((ulong)s_keep.Value, 42, "object in a reference-type static");
        }

        static void StringEquality(TestContext* t)
        {
            string a = "percy";
            t->Expect(a == "percy", "equal literals");
            t->Expect(a != "perci", "different literals");
            t->ExpectEqual((ulong)a.Length, 5, "length");
        }

        static bool Same(TextLine line, string expected)
        {
            if (line.Length != expected.Length) return false;
            for (int i = 0; i < line.Length; i++) if (line[i] != expected[i]) return false;
            return true;
        }

        static void FormatDecimal(TestContext* t)
        {
            long min = long.MinValue;
            t->Expect(Same($"{0}|{-1}|{123456789}", "0|-1|123456789"), "small and negative");
            t->Expect(Same($"{min}", "-9223372036854775808"), "long.MinValue");
            t->Expect(Same($"{ulong.MaxValue}", "18446744073709551615"), "ulong.MaxValue");
            t->Expect(Same($"[{7,5}.{42:D6}]", "[    7.000042]"), "log timestamp shape");
        }

        static void FormatHex(TestContext* t)
        {
            ulong addr = 0xFFFFFFFF80100000;
            t->Expect(Same($"{addr:x16}", "ffffffff80100000"), "x16");
            t->Expect(Same($"{255:x}|{255:X4}", "ff|00FF"), "x and X4");
            t->Expect(Same($"{"ab",-4}|{"ab",4}", "ab  |  ab"), "alignment");
        }

        static void FormatTruncates(TestContext* t)
        {
            TextLine line = default;
            for (int i = 0; i < TextLine.Capacity + 10; i++) line.Append('x');
            t->ExpectEqual((ulong)line.Length, TextLine.Capacity, "length stops at capacity");
        }

        static void Feed(ref LineEditor editor, string input)
        {
            for (int i = 0; i < input.Length; i++) editor.Feed((byte)input[i]);
        }

        static void LineEditing(TestContext* t)
        {
            LineEditor editor = default;
            Feed(ref editor, "versiom\x7f" + "n");
            t->ExpectEqual((ulong)editor.Length, 7, "backspace removes one character");
            t->ExpectEqual(editor[6], (byte)'n', "replacement character");
            t->Expect(editor.Feed((byte)'\r') == EditResult.LineDone, "CR ends the line");
            t->Expect(editor.Feed((byte)'\n') == EditResult.Ignored, "LF after CR is not a second line");
            editor.Clear();
            t->Expect(editor.Feed(0x7F) == EditResult.Ignored, "backspace on an empty line");
            for (int i = 0; i < LineEditor.MaxLength + 5; i++) editor.Feed((byte)'a');
            t->Expect(editor.Overflowed, "an over-long line is flagged");
        }

        static void EscapeSequences(TestContext* t)
        {
            LineEditor editor = default;
            Feed(ref editor, "a\x1b[A\x1b[1;5Cb\x01");
            t->ExpectEqual((ulong)editor.Length, 2, "arrow keys and control bytes dropped");
            t->ExpectEqual(editor[1], (byte)'b', "text after the sequences kept");
        }

        static void WordSplit(TestContext* t)
        {
            byte* text = stackalloc byte[32];
            string s = "  selftest   clock 42 ";
            for (int i = 0; i < s.Length; i++) text[i] = (byte)s[i];
            t->Expect(ShellArguments.TrySplit(text, s.Length, out ShellArguments args), "split succeeds");
            t->ExpectEqual((ulong)args.Count, 3, "word count");
            t->Expect(args.Is(1, "clock"), "second word");
            t->Expect(args.TryGetNumber(2, out ulong n) && n == 42, "number word");
            t->Expect(!args.TryGetNumber(1, out _), "a word is not a number");
        }

        [System.Runtime.RuntimeImport("*", "percy_breakpoint")]
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]
        static extern void RaiseBreakpoint();

        static void BreakpointReturns(TestContext* t)
        {
            ulong before = Interrupts.BreakpointCount;
            RaiseBreakpoint();
            RaiseBreakpoint();
            t->ExpectEqual(Interrupts.BreakpointCount - before, 2, "int3 handled twice and resumed");
        }

        static void AllVectorsPresent(TestContext* t)
        {
            int missing = 0;
            for (int v = 0; v < Idt.Vectors; v++) if (!Idt.IsPresent(v)) missing++;
            t->ExpectEqual((ulong)missing, 0, "IDT vectors without a present gate");
            t->Expect(Idt.UsesStack(Idt.DoubleFault, Gdt.DoubleFaultIst), "double fault on its own stack");
            t->Expect(Idt.UsesStack(Idt.Nmi, Gdt.NmiIst), "NMI on its own stack");
        }

        static void TscCalibrated(TestContext* t)
        {
            ulong mhz = Clock.TscPerMs / 1000;
            t->Expect(mhz >= 100 && mhz <= 100_000, "TSC rate between 100 MHz and 100 GHz");
        }

        static void TimeAdvances(TestContext* t)
        {
            ulong a = Clock.NanosecondsSinceBoot();
            for (int i = 0; i < 1000; i++) Cpu.Pause();
            ulong b = Clock.NanosecondsSinceBoot();
            t->Expect(b > a, "time since boot increases");
        }
    }
}
