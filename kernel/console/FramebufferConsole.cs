// A text console drawn on a linear RGB framebuffer (what GRUB hands over under UEFI,
// where there is no VGA text mode), with glyphs from a PF2 font. Output only.
namespace Percy.Kernel.Console
{
    internal static unsafe class FramebufferConsole
    {
        const uint Foreground = 0xAAAAAA, Background = 0x000000;    // VGA's light grey on black
        const int MinBitsPerPixel = 16;

        static byte* s_base;
        static uint s_pitch, s_width, s_height, s_bytesPerPixel;
        static int s_redShift, s_greenShift, s_blueShift;
        static Pf2Font s_font;
        static int s_cellWidth, s_cellHeight, s_columns, s_rows, s_column, s_row;

        public static bool Present => s_base != null;

        public static bool Init(byte* framebuffer, uint pitch, uint width, uint height, uint bitsPerPixel,
                                int redShift, int greenShift, int blueShift, Pf2Font font)
        {
            if (bitsPerPixel < MinBitsPerPixel || bitsPerPixel % 8 != 0) return false;
            if (!font.TryGetGlyph('M', out Pf2Glyph m) || m.Advance <= 0) return false;
            s_font = font;
            s_cellWidth = m.Advance;
            s_cellHeight = font.Height;
            s_pitch = pitch;
            s_width = width;
            s_height = height;
            s_bytesPerPixel = bitsPerPixel / 8;
            s_redShift = redShift;
            s_greenShift = greenShift;
            s_blueShift = blueShift;
            s_columns = (int)width / s_cellWidth;
            s_rows = (int)height / s_cellHeight;
            if (s_columns == 0 || s_rows == 0) return false;
            s_base = framebuffer;
            Memory.Fill(framebuffer, 0, (nuint)(pitch * height));   // black, whatever the pixel layout
            return true;
        }

        public static void Write(byte b)
        {
            if (s_base == null) return;
            if (b == '\n') { NewLine(); return; }
            if (b == '\b')
            {
                if (s_column > 0) DrawCell(--s_column, s_row, ' ');
                return;
            }
            if (b < 0x20 || b > 0x7E) return;
            DrawCell(s_column, s_row, b);
            if (++s_column == s_columns) NewLine();
        }

        static uint Color(uint rgb) =>
            (rgb >> 16 & 0xFF) << s_redShift | (rgb >> 8 & 0xFF) << s_greenShift | (rgb & 0xFF) << s_blueShift;

        static void Put(uint x, uint y, uint rgb)
        {
            byte* p = s_base + y * s_pitch + x * s_bytesPerPixel;
            uint c = Color(rgb);
            for (uint i = 0; i < s_bytesPerPixel; i++) p[i] = (byte)(c >> (int)(8 * i));
        }

        static void FillRow(uint y, uint x0, uint x1, uint rgb)
        {
            for (uint x = x0; x < x1; x++) Put(x, y, rgb);
        }

        static void DrawCell(int column, int row, uint codePoint)
        {
            uint left = (uint)(column * s_cellWidth), top = (uint)(row * s_cellHeight);
            for (int y = 0; y < s_cellHeight; y++) FillRow(top + (uint)y, left, left + (uint)s_cellWidth, Background);
            if (!s_font.TryGetGlyph(codePoint, out Pf2Glyph g)) return;
            // PF2 y offsets are from the baseline up to the glyph's bottom edge.
            int glyphTop = s_font.Ascent - (g.YOffset + g.Height);
            for (int y = 0; y < g.Height; y++)
            {
                int py = glyphTop + y;
                if (py < 0 || py >= s_cellHeight) continue;
                for (int x = 0; x < g.Width; x++)
                {
                    int px = g.XOffset + x;
                    if (px < 0 || px >= s_cellWidth || !g.Pixel(x, y)) continue;
                    Put(left + (uint)px, top + (uint)py, Foreground);
                }
            }
        }

        static void NewLine()
        {
            s_column = 0;
            if (++s_row < s_rows) return;
            // Scroll one text row: move the pixels up, clear the last row.
            uint rowBytes = s_pitch * (uint)s_cellHeight;
            Memory.Move(s_base, s_base + rowBytes, (nuint)(rowBytes * (uint)(s_rows - 1)));
            uint top = (uint)((s_rows - 1) * s_cellHeight);
            for (uint y = top; y < top + (uint)s_cellHeight; y++) FillRow(y, 0, s_width, Background);
            s_row = s_rows - 1;
        }
    }
}
