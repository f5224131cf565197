// Bitmap glyphs from a GRUB PF2 font file: the screen font when GRUB leaves us a
// graphical framebuffer (every UEFI boot). The ISO carries grub-common's ascii.pf2 as a
// boot module. A PF2 file is a list of sections (4-byte name, 4-byte big-endian length):
// CHIX indexes glyphs (code point, flags, offset; 9 bytes each, sorted by code point),
// and each glyph is width, height, x/y offset and advance (big-endian 16-bit) followed
// by a row-major 1-bit bitmap without row padding.
// Pure logic: compiled into the kernel and into the host tests (run on the real file).
namespace Percy.Kernel.Console
{
    public unsafe struct Pf2Glyph
    {
        public int Width, Height, XOffset, YOffset, Advance;
        public byte* Bitmap;

        public bool Pixel(int x, int y)
        {
            int bit = y * Width + x;
            return (Bitmap[bit >> 3] & (0x80 >> (bit & 7))) != 0;
        }
    }

    public unsafe struct Pf2Font
    {
        const int SectionHeader = 8, IndexEntry = 9, GlyphHeader = 10;
        const uint DataToEnd = 0xFFFFFFFF;
        const int MaxGlyphSide = 64;

        byte* _file;
        ulong _size;
        byte* _index;
        uint _glyphs;
        public int Ascent, Descent, MaxWidth, MaxHeight;

        public int Height => Ascent + Descent;

        static uint Be32(byte* p) => (uint)(p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
        static int Be16(byte* p) => (short)(p[0] << 8 | p[1]);
        static bool Named(byte* p, string name) => p[0] == name[0] && p[1] == name[1] && p[2] == name[2] && p[3] == name[3];

        public static bool TryParse(byte* file, ulong size, out Pf2Font font, out string error)
        {
            font = default;
            font._file = file;
            font._size = size;
            if (size < 12 || !Named(file, "FILE") || Be32(file + 4) != 4 || !Named(file + 8, "PFF2"))
            {
                error = "not a PF2 font file";
                return false;
            }
            ulong at = 12;
            while (at + SectionHeader <= size)
            {
                byte* section = file + at;
                uint length = Be32(section + 4);
                if (Named(section, "DATA") && length == DataToEnd) break;
                if (length > size - at - SectionHeader)
                {
                    error = "PF2 section runs past the end of the file";
                    return false;
                }
                byte* body = section + SectionHeader;
                if (length == 2)
                {
                    if (Named(section, "ASCE")) font.Ascent = Be16(body);
                    else if (Named(section, "DESC")) font.Descent = Be16(body);
                    else if (Named(section, "MAXW")) font.MaxWidth = Be16(body);
                    else if (Named(section, "MAXH")) font.MaxHeight = Be16(body);
                }
                if (Named(section, "CHIX"))
                {
                    font._index = body;
                    font._glyphs = length / IndexEntry;
                }
                at += SectionHeader + length;
            }
            if (font._index == null || font._glyphs == 0)
            {
                error = "PF2 font has no character index";
                return false;
            }
            if (font.Ascent <= 0 || font.Descent < 0 || font.Height > MaxGlyphSide)
            {
                error = "PF2 font has implausible metrics";
                return false;
            }
            error = null;
            return true;
        }

        public bool TryGetGlyph(uint codePoint, out Pf2Glyph glyph)
        {
            glyph = default;
            uint lo = 0, hi = _glyphs;
            while (lo < hi)
            {
                uint mid = lo + (hi - lo) / 2;
                byte* entry = _index + (ulong)mid * IndexEntry;
                uint code = Be32(entry);
                if (code < codePoint) { lo = mid + 1; continue; }
                if (code > codePoint) { hi = mid; continue; }
                ulong offset = Be32(entry + 5);
                if (offset > _size || _size - offset < GlyphHeader) return false;
                byte* g = _file + offset;
                glyph.Width = Be16(g);
                glyph.Height = Be16(g + 2);
                glyph.XOffset = Be16(g + 4);
                glyph.YOffset = Be16(g + 6);
                glyph.Advance = Be16(g + 8);
                glyph.Bitmap = g + GlyphHeader;
                ulong bitmapBytes = ((ulong)(glyph.Width * glyph.Height) + 7) / 8;
                return glyph.Width >= 0 && glyph.Height >= 0 && glyph.Width <= MaxGlyphSide
                    && glyph.Height <= MaxGlyphSide && _size - offset - GlyphHeader >= bitmapBytes;
            }
            return false;
        }
    }
}
