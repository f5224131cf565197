// A PS/2 keyboard (scan code set 1) as a second input for the shell on a real box.
// Only what a shell needs: letters, digits, punctuation, shift, enter, backspace.
using Percy.Kernel.Arch;

namespace Percy.Kernel.Console
{
    internal static class Keyboard
    {
        const int Irq = 1;
        const ushort DataPort = 0x60;
        const byte Release = 0x80, LeftShift = 0x2A, RightShift = 0x36;
        // Scan code → character, unshifted and shifted (US layout), for codes 0x00..0x39.
        const string Plain = "\0\x1b" + "1234567890-=\b\tqwertyuiop[]\n\0asdfghjkl;'`\0\\zxcvbnm,./\0*\0 ";
        const string Shifted = "\0\x1b" + "!@#$%^&*()_+\b\tQWERTYUIOP{}\n\0ASDFGHJKL:\"~\0|ZXCVBNM<>?\0*\0 ";

        static bool s_shift;

        public static unsafe void Init() => Interrupts.SetIrqHandler(Irq, &OnInterrupt);

        static void OnInterrupt()
        {
            byte code = Cpu.InB(DataPort);
            byte key = (byte)(code & ~Release);
            if (key == LeftShift || key == RightShift)
            {
                s_shift = (code & Release) == 0;
                return;
            }
            if ((code & Release) != 0 || key >= Plain.Length) return;
            char c = s_shift ? Shifted[key] : Plain[key];
            if (c == '\n') c = '\r';               // Enter ends a line, like a terminal's CR
            if (c != 0) Input.Put((byte)c);
        }
    }
}
