using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Percy.Kernel.Console;
using Xunit;

namespace Percy.Tests;

// The framebuffer console's font reader, on the font file the ISO really carries.
public unsafe class Pf2FontTests
{
    const string AsciiFont = "/usr/share/grub/ascii.pf2";

    [Fact]
    public void ReadsGrubsAsciiFont()
    {
        byte[] file = File.ReadAllBytes(AsciiFont);
        fixed (byte* p = file)
        {
            Assert.True(Pf2Font.TryParse(p, (ulong)file.Length, out var font, out string error), error);
            Assert.Equal(16, font.Height);
            Assert.True(font.TryGetGlyph('A', out var a));
            Assert.Equal(8, a.Advance);
            Assert.InRange(a.Height, 8, 16);
            int lit = 0;
            for (int y = 0; y < a.Height; y++)
                for (int x = 0; x < a.Width; x++)
                    if (a.Pixel(x, y)) lit++;
            Assert.InRange(lit, 10, a.Width * a.Height - 10);
            Assert.True(font.TryGetGlyph(' ', out var space));
            Assert.False(font.TryGetGlyph(0x4E00, out _));      // not in an ASCII font
        }
    }

    [Fact]
    public void EveryTruncationIsRefusedOrSafe()
    {
        byte[] file = File.ReadAllBytes(AsciiFont);
        for (int n = 0; n < file.Length; n += 7)
        {
            // An exactly-sized copy: reading past it would read past the array.
            byte[] cut = file[..n];
            fixed (byte* p = cut)
            {
                if (!Pf2Font.TryParse(p, (ulong)n, out var font, out string error))
                {
                    Assert.False(string.IsNullOrEmpty(error));
                    continue;
                }
                for (uint c = 0; c < 128; c++)
                    if (font.TryGetGlyph(c, out var g))
                        Assert.True(g.Bitmap + (g.Width * g.Height + 7) / 8 <= p + n);
            }
        }
    }

    [Fact]
    public void RejectsOtherFiles()
    {
        byte[] junk = new byte[64];
        new Random(7).NextBytes(junk);
        fixed (byte* p = junk)
            Assert.False(Pf2Font.TryParse(p, (ulong)junk.Length, out _, out string error));
    }
}
