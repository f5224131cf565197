// The VGA text screen (80x25 at 0xB8000) that BIOS boots leave us in. Output only,
// mirrored from the console; scrolls when full.
namespace Percy.Kernel.Console
{
    internal static unsafe class Vga
    {
        const ulong TextBuffer = 0xB8000;
        const int Columns = 80, Rows = 25;
        const ushort Attribute = 0x07 << 8;           // light grey on black

        static ushort* s_screen;
        static int s_column, s_row;

        public static bool Present => s_screen != null;

        public static void Init(ulong physToVirt, int columns, int rows)
        {
            if (columns != Columns || rows != Rows) return;
            s_screen = (ushort*)(TextBuffer + physToVirt);
            for (int i = 0; i < Columns * Rows; i++) s_screen[i] = Attribute | ' ';
            s_column = s_row = 0;
        }

        public static void Write(byte b)
        {
            if (s_screen == null) return;
            if (b == '\n') NewLine();
            else if (b == '\b') { if (s_column > 0) s_screen[s_row * Columns + --s_column] = Attribute | ' '; }
            else if (b >= 0x20 && b < 0x7F)
            {
                s_screen[s_row * Columns + s_column] = (ushort)(Attribute | b);
                if (++s_column == Columns) NewLine();
            }
        }

        static void NewLine()
        {
            s_column = 0;
            if (++s_row < Rows) return;
            for (int i = 0; i < Columns * (Rows - 1); i++) s_screen[i] = s_screen[i + Columns];
            for (int i = Columns * (Rows - 1); i < Columns * Rows; i++) s_screen[i] = Attribute | ' ';
            s_row = Rows - 1;
        }
    }
}
