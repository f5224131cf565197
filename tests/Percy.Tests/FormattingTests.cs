using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Percy.Kernel;
using Xunit;

namespace Percy.Tests;

public class TextLineTests
{
    static string Text(TextLine line)
    {
        var chars = new char[line.Length];
        for (int i = 0; i < line.Length; i++) chars[i] = (char)line[i];
        return new string(chars);
    }

    [Fact]
    public void FormatsDecimalsIncludingExtremes()
    {
        long min = long.MinValue;
        Assert.Equal("0 -1 123", Text($"{0} {-1} {123}"));
        Assert.Equal("-9223372036854775808", Text($"{min}"));
        Assert.Equal("18446744073709551615", Text($"{ulong.MaxValue}"));
    }

    [Fact]
    public void FormatsHexWithPaddingAndCase()
    {
        ulong addr = 0xFFFFFFFF80100000;
        Assert.Equal("ffffffff80100000", Text($"{addr:x16}"));
        Assert.Equal("ff 00FF 0000000000000001", Text($"{255:x} {255:X4} {1:x16}"));
    }

    [Fact]
    public void AlignsLikeDotNet()
    {
        Assert.Equal("[    7.000042]", Text($"[{7,5}.{42:D6}]"));
        Assert.Equal("ab  |  ab", Text($"{"ab",-4}|{"ab",4}"));
        Assert.Equal(" -5", Text($"{-5,3}"));
    }

    [Fact]
    public void StopsAtCapacityAndReplacesNonAscii()
    {
        TextLine line = default;
        for (int i = 0; i < TextLine.Capacity + 100; i++) line.Append('x');
        Assert.Equal(TextLine.Capacity, line.Length);
        Assert.Equal("a?b", Text($"a{'é'}b"));
    }

    [Fact]
    public void NullStringFormatsAsEmpty()
    {
        string nothing = null;
        Assert.Equal("[]", Text($"[{nothing}]"));
    }
}
