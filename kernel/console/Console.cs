// Console output: every byte goes to COM1 and to the screen. Serial gets CR LF
// line ends, as terminals and the test harness expect.
namespace Percy.Kernel.Console
{
    internal static unsafe class Console
    {
        public static void Write(byte b)
        {
            if (b == '\n') Serial.Write((byte)'\r');
            Serial.Write(b);
            Vga.Write(b);
            FramebufferConsole.Write(b);
        }

        public static void Write(string s)
        {
            for (int i = 0; i < s.Length; i++) Write((byte)s[i]);
        }

        public static void Write(TextLine line)
        {
            for (int i = 0; i < line.Length; i++) Write(line[i]);
        }

        public static void WriteLine(string s)
        {
            Write(s);
            Write((byte)'\n');
        }

        public static void WriteLine(TextLine line)
        {
            Write(line);
            Write((byte)'\n');
        }

        public static void Write(byte* p, int n)
        {
            for (int i = 0; i < n; i++) Write(p[i]);
        }
    }
}
