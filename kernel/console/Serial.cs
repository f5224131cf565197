// COM1, a 16550 UART at 115200 8N1: the console every test and every real box has.
using Percy.Kernel.Arch;

namespace Percy.Kernel.Console
{
    internal static class Serial
    {
        const ushort Com1 = 0x3F8;
        const ushort Data = 0, InterruptEnable = 1, FifoControl = 2, LineControl = 3, ModemControl = 4, LineStatus = 5;
        const byte LineStatusDataReady = 0x01, LineStatusTransmitEmpty = 0x20;
        const byte DivisorLatch = 0x80, EightNoParityOneStop = 0x03;
        const ushort Divisor115200 = 1;

        public static bool Present { get; private set; }

        public static void Init()
        {
            Cpu.OutB(Com1 + InterruptEnable, 0);
            Cpu.OutB(Com1 + LineControl, DivisorLatch);
            Cpu.OutB(Com1 + 0, (byte)Divisor115200);
            Cpu.OutB(Com1 + 1, 0);
            Cpu.OutB(Com1 + LineControl, EightNoParityOneStop);
            Cpu.OutB(Com1 + FifoControl, 0xC7);      // enable and clear FIFOs, 14-byte threshold
            Cpu.OutB(Com1 + ModemControl, 0x0B);     // DTR, RTS, OUT2 (OUT2 gates the IRQ line)
            // A missing UART reads back 0xFF; then we stay quiet on serial.
            Present = Cpu.InB(Com1 + LineStatus) != 0xFF;
        }

        public static void Write(byte b)
        {
            if (!Present) return;
            while ((Cpu.InB(Com1 + LineStatus) & LineStatusTransmitEmpty) == 0) Cpu.Pause();
            Cpu.OutB(Com1 + Data, b);
        }

        public static void Write(string s)
        {
            for (int i = 0; i < s.Length; i++) Write((byte)s[i]);
        }

        public static bool TryRead(out byte b)
        {
            b = 0;
            if (!Present || (Cpu.InB(Com1 + LineStatus) & LineStatusDataReady) == 0) return false;
            b = Cpu.InB(Com1 + Data);
            return true;
        }

        // Interrupt on received data, so the shell can halt while it waits.
        public static void EnableReceiveInterrupt() => Cpu.OutB(Com1 + InterruptEnable, 0x01);
    }
}
