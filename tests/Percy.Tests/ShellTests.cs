using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Percy.Kernel.Shell;
using Xunit;

namespace Percy.Tests;

public unsafe class LineEditorTests
{
    static string Line(in LineEditor e)
    {
        var chars = new char[e.Length];
        for (int i = 0; i < e.Length; i++) chars[i] = (char)e[i];
        return new string(chars);
    }

    static EditResult[] Feed(ref LineEditor e, string input)
    {
        var results = new EditResult[input.Length];
        for (int i = 0; i < input.Length; i++) results[i] = e.Feed((byte)input[i]);
        return results;
    }

    [Fact]
    public void BackspaceAndDeleteEraseOneCharacter()
    {
        var e = default(LineEditor);
        var r = Feed(ref e, "helo\bp\x7f" + "p");
        Assert.Equal("help", Line(e));
        Assert.Equal(EditResult.Erase, r[4]);
        Assert.Equal(EditResult.Erase, r[6]);
    }

    [Fact]
    public void BackspacePastTheStartIsIgnored()
    {
        var e = default(LineEditor);
        Assert.All(Feed(ref e, "\b\b\x7f"), r => Assert.Equal(EditResult.Ignored, r));
        Assert.Equal(0, e.Length);
    }

    [Theory]
    [InlineData("ls\r", 1)]
    [InlineData("ls\n", 1)]
    [InlineData("ls\r\n", 1)]
    [InlineData("ls\n\n", 2)]
    [InlineData("ls\r\r", 2)]
    public void LineEndsCountOnce(string input, int lines)
    {
        var e = default(LineEditor);
        Assert.Equal(lines, Feed(ref e, input).Count(r => r == EditResult.LineDone));
    }

    [Fact]
    public void EscapeSequencesAndControlBytesAreDropped()
    {
        var e = default(LineEditor);
        Feed(ref e, "a\x1b[A\x1b[1;5Cb\x01\x1bOc\x80\xff");
        Assert.Equal("abc", Line(e));
    }

    [Theory]
    [InlineData("\x1b[")]
    [InlineData("\x1b[1;2")]
    [InlineData("\x1b")]
    public void EnterEndsAnUnfinishedEscapeSequence(string escape)
    {
        var e = default(LineEditor);
        var r = Feed(ref e, "ab" + escape + "\r");
        Assert.Equal(EditResult.LineDone, r[^1]);
        Assert.Equal("ab", Line(e));
        e.Clear();
        Feed(ref e, "version");
        Assert.Equal("version", Line(e));
    }

    [Fact]
    public void OverlongLinesAreFlaggedNotOverrun()
    {
        var e = default(LineEditor);
        Feed(ref e, new string('a', 10_000));
        Assert.True(e.Overflowed);
        Assert.Equal(LineEditor.MaxLength, e.Length);
        e.Clear();
        Assert.False(e.Overflowed);
        Assert.Equal(0, e.Length);
    }

    [Fact]
    public void RandomBytesNeverBreakTheEditor()
    {
        var random = new Random(1234);
        var e = default(LineEditor);
        for (int i = 0; i < 200_000; i++)
        {
            var r = e.Feed((byte)random.Next(256));
            Assert.InRange(e.Length, 0, LineEditor.MaxLength);
            if (r == EditResult.LineDone) e.Clear();
        }
    }
}

public unsafe class ShellArgumentsTests
{
    static bool Split(string s, out ShellArguments args)
    {
        var bytes = System.Text.Encoding.ASCII.GetBytes(s);
        fixed (byte* p = bytes)
        {
            // The words point into the buffer; copy to unmanaged memory that outlives `fixed`.
            byte* copy = (byte*)System.Runtime.InteropServices.NativeMemory.Alloc((nuint)Math.Max(1, bytes.Length));
            for (int i = 0; i < bytes.Length; i++) copy[i] = p[i];
            return ShellArguments.TrySplit(copy, bytes.Length, out args);
        }
    }

    [Fact]
    public void SplitsOnRunsOfSpaces()
    {
        Assert.True(Split("  selftest   clock  ", out var a));
        Assert.Equal(2, a.Count);
        Assert.True(a.Is(0, "selftest"));
        Assert.True(a.Is(1, "clock"));
        Assert.False(a.Is(1, "cloc"));
        Assert.False(a.Is(2, "x"));
    }

    [Fact]
    public void EmptyLineHasNoWords()
    {
        Assert.True(Split("     ", out var a));
        Assert.Equal(0, a.Count);
    }

    [Fact]
    public void TooManyWordsIsRefused()
    {
        Assert.True(Split(string.Join(' ', Enumerable.Repeat("w", ShellArguments.MaxWords)), out _));
        Assert.False(Split(string.Join(' ', Enumerable.Repeat("w", ShellArguments.MaxWords + 1)), out _));
    }

    [Theory]
    [InlineData("42", true, 42ul)]
    [InlineData("0", true, 0ul)]
    [InlineData("18446744073709551615", true, ulong.MaxValue)]
    [InlineData("18446744073709551616", false, 0ul)]
    [InlineData("-1", false, 0ul)]
    [InlineData("12a", false, 0ul)]
    public void ParsesDecimalNumbers(string word, bool ok, ulong expected)
    {
        Assert.True(Split("cmd " + word, out var a));
        Assert.Equal(ok, a.TryGetNumber(1, out ulong value));
        if (ok) Assert.Equal(expected, value);
    }
}
