using System;
using System.Linq;
using System.Text;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Percy.Kernel;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class KernelCommandLineTests
    {
        static KernelCommandLine Parse(string text)
        {
            // Through the byte* entry point, with the text at the end of a guarded page.
            byte[] bytes = Encoding.Latin1.GetBytes(text);
            using var mem = new GuardedMemory(Math.Max(1, bytes.Length));
            var c = new KernelCommandLine();
            c.Parse(mem.PlaceAtEnd(bytes), bytes.Length);
            // The string entry point agrees.
            var d = new KernelCommandLine();
            d.Parse(text);
            Assert.Equal(c.TokenCount, d.TokenCount);
            Assert.Equal(c.ProblemCount, d.ProblemCount);
            return c;
        }

        static string Value(KernelCommandLine c, string key)
        {
            Assert.True(c.TryGetString(key, out int start, out int length), key);
            return Encoding.ASCII.GetString(c.Text, start, length);
        }

        static string[] Problems(KernelCommandLine c)
            => Enumerable.Range(0, c.ProblemCount).Select(i => $"{c.Problem(i).Position}: {c.Problem(i).Reason}").ToArray();

        [Fact]
        public void KeysValuesAndFlags()
        {
            var c = Parse("percpu.unit=2M  quiet\tconsole=ttyS0,115200 root=LABEL=percy empty= init=\"/bin/sh -x\"");
            Assert.Equal(6, c.TokenCount);
            Assert.Empty(Problems(c));
            Assert.True(c.Has("quiet"));
            Assert.True(c.Has("empty"));
            Assert.False(c.Has("quie"));
            Assert.False(c.Has("quiet2"));
            Assert.False(c.TryGetString("quiet", out _, out _));
            Assert.Equal("2M", Value(c, "percpu.unit"));
            Assert.Equal("ttyS0,115200", Value(c, "console"));
            Assert.Equal("LABEL=percy", Value(c, "root"));
            Assert.Equal("", Value(c, "empty"));
            Assert.Equal("/bin/sh -x", Value(c, "init"));
            Assert.True(c.ValueEquals("console", "ttyS0,115200"));
            Assert.False(c.ValueEquals("console", "ttyS0"));
            Assert.False(c.ValueEquals("quiet", ""));
            Assert.False(c.TryGetString("absent", out _, out _));
            Assert.False(c.Has(null));
        }

        [Fact]
        public void EmptyAndBlankLines()
        {
            foreach (string s in new[] { "", " ", "\t\r\n  " })
            {
                var c = Parse(s);
                Assert.Equal(0, c.TokenCount);
                Assert.Equal(0, c.ProblemCount);
            }
            var n = new KernelCommandLine();
            n.Parse(null, 10);
            n.Parse((string)null);
            Assert.Equal(0, n.TokenCount);
        }

        [Theory]
        [InlineData("=x ok", "0: empty key")]
        [InlineData("a=1 a=2 ok", "4: duplicate key; the first one is kept")]
        [InlineData("ok a=\"unterminated value", "3: unterminated quote")]
        [InlineData("a\"b=1 ok", "0: quote in a key")]
        [InlineData("a=b\"c ok", "0: quote inside an unquoted value")]
        [InlineData("a=\"b\"c ok", "0: text after a closing quote")]
        [InlineData("a=\u0001 ok", "0: non-printable character")]
        [InlineData("k\u007F ok", "0: non-printable character")]
        [InlineData("a=\"x\u0007y\" ok", "0: non-printable character")]
        [InlineData("ok \u00e9t\u00e9=1", "3: non-printable character")]
        [InlineData("\"quoted key\" ok", "0: quote in a key")]
        public void MalformedTokensAreReportedAndIgnored(string text, string problem)
        {
            var c = Parse(text);
            Assert.Contains(problem, Problems(c));
            if (text.EndsWith("ok") || text.StartsWith("ok")) Assert.True(c.Has("ok"));
            // The malformed token contributes no key.
            Assert.False(c.Has("") || c.Has("a\"b") || c.Has("k\u007F"));
            if (problem.Contains("duplicate")) Assert.Equal("1", Value(c, "a"));
            else Assert.False(c.Has("a"));
        }

        [Fact]
        public void QuotedValuesMayHoldBlanksAndEquals()
        {
            var c = Parse("cmd=\"a=b c=d\" x=\"\" y");
            Assert.Equal("a=b c=d", Value(c, "cmd"));
            Assert.Equal("", Value(c, "x"));
            Assert.True(c.Has("y"));
            Assert.False(c.Has("c"));
        }

        [Fact]
        public void TokenCountIsBounded()
        {
            string text = string.Join(" ", Enumerable.Range(0, 70).Select(i => $"k{i}={i}"));
            var c = Parse(text);
            Assert.Equal(KernelCommandLine.MaxTokens, c.TokenCount);
            Assert.True(c.Has("k63"));
            Assert.False(c.Has("k64"));
            Assert.Single(Problems(c));
            Assert.EndsWith("more than 64 tokens; the rest are ignored", Problems(c)[0]);
        }

        [Fact]
        public void ProblemCountIsBounded()
        {
            var c = Parse(string.Join(" ", Enumerable.Repeat("=x", 20)));
            Assert.Equal(KernelCommandLine.MaxProblems, c.ProblemCount);
            Assert.Equal(4, c.ProblemsDropped);
        }

        [Fact]
        public void OverlongLinesAreCutAtABlank()
        {
            string filler = new string('f', 4090);
            var c = Parse(filler + " abcdefgh=1 tail");
            Assert.Equal(4091, c.Length);               // cut after "filler ", not inside abcdefgh
            Assert.True(c.Has(filler));
            Assert.False(c.Has("abcdefgh"));
            Assert.Contains("4096: command line is longer than 4096 bytes; the rest is ignored", Problems(c));

            c = Parse(new string('a', 4096) + " b");    // the cut falls on a blank: the token is whole
            Assert.Equal(4096, c.Length);
            Assert.True(c.Has(new string('a', 4096)));

            c = Parse(new string('a', 5000));           // one huge token: nothing is kept
            Assert.Equal(0, c.TokenCount);
        }

        // ---- numbers ----

        [Theory]
        [InlineData("0", 0ul)]
        [InlineData("4096", 4096ul)]
        [InlineData("0x1000", 0x1000ul)]
        [InlineData("0XfF", 0xFFul)]
        [InlineData("2M", 2ul << 20)]
        [InlineData("2m", 2ul << 20)]
        [InlineData("512K", 512ul << 10)]
        [InlineData("3G", 3ul << 30)]
        [InlineData("1T", 1ul << 40)]
        [InlineData("0x10M", 16ul << 20)]
        [InlineData("18446744073709551615", ulong.MaxValue)]
        [InlineData("0xFFFFFFFFFFFFFFFF", ulong.MaxValue)]
        [InlineData("16777215T", 16777215ul << 40)]
        public void SizesParse(string text, ulong expected)
        {
            var c = Parse("mem=" + text);
            Assert.True(c.TryGetSize("mem", out ulong v, out string error), error);
            Assert.Null(error);
            Assert.Equal(expected, v);
        }

        [Theory]
        [InlineData("mem=", "empty number")]
        [InlineData("mem=M", "not a number")]
        [InlineData("mem=-1", "not a number")]
        [InlineData("mem=0x", "no hex digits after 0x")]
        [InlineData("mem=0xG", "no hex digits after 0x")]
        [InlineData("mem=12Q", "unexpected characters after the number")]
        [InlineData("mem=12KB", "unexpected characters after the size suffix")]
        [InlineData("mem=18446744073709551616", "number overflows 64 bits")]
        [InlineData("mem=0x10000000000000000", "number overflows 64 bits")]
        [InlineData("mem=16777216T", "size overflows 64 bits")]
        [InlineData("mem=17179869184G", "size overflows 64 bits")]
        [InlineData("mem", "size option has no value")]
        public void BadSizesAreRejected(string text, string reason)
        {
            var c = Parse(text);
            Assert.False(c.TryGetSize("mem", out ulong v, out string error));
            Assert.Equal(reason, error);
            Assert.Equal(0ul, v);
        }

        [Fact]
        public void AbsentKeysAreNotErrors()
        {
            var c = Parse("x=1");
            Assert.False(c.TryGetSize("mem", out _, out string error));
            Assert.Null(error);
            Assert.False(c.TryGetUInt("cpus", 1, 64, out _, out error));
            Assert.Null(error);
        }

        [Theory]
        [InlineData("cpus=4", true, 4u, null)]
        [InlineData("cpus=0x40", true, 64u, null)]
        [InlineData("cpus=1", true, 1u, null)]
        [InlineData("cpus=0", false, 0u, "number is out of range")]
        [InlineData("cpus=65", false, 0u, "number is out of range")]
        [InlineData("cpus=4294967296", false, 0u, "number is out of range")]
        [InlineData("cpus=99999999999999999999", false, 0u, "number overflows 64 bits")]
        [InlineData("cpus=4K", false, 0u, "unexpected characters after the number")]
        [InlineData("cpus=four", false, 0u, "not a number")]
        [InlineData("cpus", false, 0u, "number option has no value")]
        public void UnsignedIntegersInRange(string text, bool ok, uint expected, string reason)
        {
            var c = Parse(text);
            Assert.Equal(ok, c.TryGetUInt("cpus", 1, 64, out uint v, out string error));
            Assert.Equal(expected, v);
            Assert.Equal(reason, error);
        }

        [Fact]
        public void FullUIntRange()
        {
            var c = Parse("n=4294967295");
            Assert.True(c.TryGetUInt("n", 0, uint.MaxValue, out uint v, out _));
            Assert.Equal(uint.MaxValue, v);
        }

        [Fact]
        public void ParseNumberChecksItsRange()
        {
            byte[] t = Encoding.ASCII.GetBytes("123");
            Assert.False(KernelCommandLine.ParseNumber(t, 2, 5, out _, out _, out string error));
            Assert.Equal("number is outside its text", error);
            Assert.False(KernelCommandLine.ParseNumber(null, 0, 0, out _, out _, out error));
            Assert.False(KernelCommandLine.ParseNumber(t, -1, 1, out _, out _, out error));
            Assert.True(KernelCommandLine.ParseNumber(t, 1, 2, out ulong v, out int end, out _));
            Assert.Equal(23ul, v);
            Assert.Equal(3, end);
        }

        // ---- properties ----

        [Property(MaxTest = 300)]
        public Property DecimalAndHexRoundTrip()
        {
            return Prop.ForAll(ArbMap.Default.ArbFor<ulong>(), Arb.From(Gen.Elements(0, 10, 20, 30, 40)), (value, shift) =>
            {
                string suffix = shift switch { 10 => "K", 20 => "M", 30 => "G", 40 => "T", _ => "" };
                var c = new KernelCommandLine();
                c.Parse($"a={value}{suffix} b=0x{value:x}{suffix}");
                bool fits = shift == 0 || value <= ulong.MaxValue >> shift;
                bool okA = c.TryGetSize("a", out ulong a, out string ea);
                bool okB = c.TryGetSize("b", out ulong b, out string eb);
                return okA == fits && okB == fits && (!fits || (a == value << shift && b == a)) && (fits || (ea != null && eb != null));
            });
        }

        [Property(MaxTest = 500)]
        public Property ArbitraryBytesNeverCrashAndTokensStayInside()
        {
            var alphabet = Gen.Elements("a", "b", "=", "\"", " ", "\t", "0x1", "K", "\u0001", "\u00ff", "key", "==");
            return Prop.ForAll(Arb.From(Gen.ArrayOf(alphabet).Select(parts => string.Concat(parts))), text =>
            {
                var c = Parse(text);
                for (int i = 0; i < c.TokenCount; i++)
                {
                    var t = c.Token(i);
                    if (t.KeyLength <= 0 || t.KeyStart < 0 || t.KeyStart + t.KeyLength > c.Length) return false;
                    if (t.HasValue && (t.ValueStart < 0 || t.ValueStart + t.ValueLength > c.Length)) return false;
                    for (int k = 0; k < t.KeyLength; k++)
                    {
                        byte ch = c.Text[t.KeyStart + k];
                        if (ch == '=' || ch == '"' || ch <= ' ' || ch >= 0x7F) return false;
                    }
                    // Keys are unique.
                    string key = Encoding.ASCII.GetString(c.Text, t.KeyStart, t.KeyLength);
                    for (int j = 0; j < i; j++)
                        if (Encoding.ASCII.GetString(c.Text, c.Token(j).KeyStart, c.Token(j).KeyLength) == key) return false;
                    if (!c.Has(key)) return false;
                }
                for (int i = 0; i < c.ProblemCount; i++)
                    if (string.IsNullOrEmpty(c.Problem(i).Reason)) return false;
                return true;
            });
        }
    }
}
