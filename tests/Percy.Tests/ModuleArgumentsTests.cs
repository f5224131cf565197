using System.Text;
using Percy.Module;
using Xunit;

namespace Percy.Tests;

// modules/sdk/ModuleArguments.cs: insmod's `key=value` text as a module's generated
// parameter setter reads it.
public unsafe class ModuleArgumentsTests
{
    delegate string Parser(ModuleArgument argument);

    // The one argument in `text`, parsed by `parse`.
    static string One(string text, Parser parse)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(text);
        fixed (byte* p = bytes)
        {
            var arguments = new ModuleArguments(p, (ulong)bytes.Length);
            Assert.True(arguments.Next(out ModuleArgument argument));
            string result = parse(argument);
            Assert.False(arguments.Next(out _));
            return result;
        }
    }

    [Fact]
    public void TokensAreKeyValuePairsAndBareKeys()
    {
        byte[] bytes = Encoding.ASCII.GetBytes("  target=counter \tgets=3\nhold  empty= ");
        fixed (byte* p = bytes)
        {
            var arguments = new ModuleArguments(p, (ulong)bytes.Length);
            Assert.True(arguments.Next(out ModuleArgument a));
            Assert.True(a.KeyIs("target") && a.HasValue && a.ValueLength == 7);
            Assert.False(a.KeyIs("targe"));
            Assert.True(arguments.Next(out a));
            Assert.True(a.KeyIs("gets"));
            Assert.Null(a.Parse(out int gets));
            Assert.Equal(3, gets);
            Assert.True(arguments.Next(out a));
            Assert.True(a.KeyIs("hold") && !a.HasValue);
            Assert.True(arguments.Next(out a));
            Assert.True(a.KeyIs("empty") && a.HasValue && a.ValueLength == 0);
            Assert.False(arguments.Next(out _));
        }
    }

    [Fact]
    public void NoTextMeansNoArguments()
    {
        var arguments = new ModuleArguments(null, 0);
        Assert.False(arguments.Next(out _));
    }

    [Theory]
    [InlineData("n=0", 0)]
    [InlineData("n=-1", -1)]
    [InlineData("n=2147483647", int.MaxValue)]
    [InlineData("n=-2147483648", int.MinValue)]
    [InlineData("n=0x10", 16)]
    public void IntsParse(string text, int expected)
    {
        int value = 0;
        Assert.Null(One(text, a => a.Parse(out value)));
        Assert.Equal(expected, value);
    }

    [Theory]
    [InlineData("n=2147483648", "out of range")]
    [InlineData("n=-2147483649", "out of range")]
    [InlineData("n=12x", "not a number")]
    [InlineData("n=", "needs a number")]
    [InlineData("n", "needs a number")]
    [InlineData("n=-", "needs a number")]
    [InlineData("n=0x", "not a number")]
    public void BadIntsAreRefused(string text, string problem)
        => Assert.Equal(problem, One(text, a => a.Parse(out int _)));

    [Theory]
    [InlineData("n=18446744073709551615", ulong.MaxValue, null)]
    [InlineData("n=18446744073709551616", 0ul, "out of range")]
    [InlineData("n=-1", 0ul, "not a number")]
    public void UnsignedLongsParse(string text, ulong expected, string problem)
    {
        ulong value = 1;
        Assert.Equal(problem, One(text, a => a.Parse(out value)));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void LongsAndUintsHaveTheirRanges()
    {
        long l = 0;
        Assert.Null(One("n=-9223372036854775808", a => a.Parse(out l)));
        Assert.Equal(long.MinValue, l);
        Assert.Equal("out of range", One("n=9223372036854775808", a => a.Parse(out long _)));
        Assert.Equal("out of range", One("n=4294967296", a => a.Parse(out uint _)));
    }

    [Theory]
    [InlineData("hold", true)]
    [InlineData("hold=1", true)]
    [InlineData("hold=y", true)]
    [InlineData("hold=true", true)]
    [InlineData("hold=0", false)]
    [InlineData("hold=N", false)]
    [InlineData("hold=false", false)]
    public void BoolsParse(string text, bool expected)
    {
        bool value = !expected;
        Assert.Null(One(text, a => a.Parse(out value)));
        Assert.Equal(expected, value);
    }

    [Fact]
    public void BadBoolsAreRefused() => Assert.NotNull(One("hold=yes", a => a.Parse(out bool _)));

    [Fact]
    public void StringsAreCopiedUpToTheirCapacity()
    {
        ModuleString s = default;
        Assert.Null(One("target=counter", a => a.Parse(out s)));
        Assert.Equal(7, s.Length);
        Assert.Equal((byte)'c', s[0]);
        Assert.Equal((byte)'r', s[6]);
        Assert.Equal(0, s[7]);
        string longest = new string('x', ModuleString.Capacity);
        Assert.Null(One("t=" + longest, a => a.Parse(out s)));
        Assert.Equal(ModuleString.Capacity, s.Length);
        Assert.Equal("is longer than 63 bytes", One("t=" + longest + "x", a => a.Parse(out ModuleString _)));
        Assert.Equal("needs a value", One("t", a => a.Parse(out ModuleString _)));
    }

    [Fact]
    public void DefaultsAreSetFromStrings()
    {
        var s = new ModuleString();
        Assert.True(s.Set("counter"));
        Assert.Equal(7, s.Length);
        Assert.False(s.Set(new string('x', ModuleString.Capacity + 1)));
        Assert.Equal(0, s.Length);
    }
}
