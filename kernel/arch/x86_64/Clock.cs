// Time since kernel entry, from the TSC. The TSC rate is measured once against the
// PIT (whose input clock is a fixed 1.193182 MHz), using channel 2, which can be
// gated and read back through port 0x61 without interrupts.
namespace Percy.Kernel.Arch
{
    internal static class Clock
    {
        const uint PitHz = 1193182;
        const uint CalibrationMs = 10;
        const ushort PitChannel2 = 0x42, PitCommand = 0x43, PitGatePort = 0x61;
        const byte Channel2OneShot = 0xB0;           // channel 2, lo/hi byte, mode 0
        const byte GateOn = 0x01, SpeakerOff = 0x02, OutputHigh = 0x20;

        static ulong s_entryTsc;
        static ulong s_tscPerMs;                     // 0 until calibrated: time reads as 0, as Linux's does early

        public static ulong TscPerMs => s_tscPerMs;

        public static void Calibrate()
        {
            s_entryTsc = Boot.EntryTsc;
            byte gate = StartPitOneShot(CalibrationMs);
            ulong start = Cpu.ReadTsc();
            WaitPitOneShot(gate);
            ulong elapsed = Cpu.ReadTsc() - start;
            s_tscPerMs = elapsed / CalibrationMs;
            if (s_tscPerMs == 0) s_tscPerMs = 1;
        }

        // Starts PIT channel 2 counting down `ms` milliseconds (at most 54); returns the
        // old port 0x61 value for WaitPitOneShot. Also used to calibrate the LAPIC timer.
        public static byte StartPitOneShot(uint ms)
        {
            uint count = PitHz * ms / 1000;
            byte gate = Cpu.InB(PitGatePort);
            Cpu.OutB(PitGatePort, (byte)((gate & ~SpeakerOff) | GateOn));
            Cpu.OutB(PitCommand, Channel2OneShot);
            Cpu.OutB(PitChannel2, (byte)count);
            Cpu.OutB(PitChannel2, (byte)(count >> 8));
            return gate;
        }

        // Polls until the count started by StartPitOneShot reaches zero, then restores the gate.
        public static void WaitPitOneShot(byte gate)
        {
            while ((Cpu.InB(PitGatePort) & OutputHigh) == 0) Cpu.Pause();
            Cpu.OutB(PitGatePort, gate);
        }

        // Busy-waits on the TSC; for the short, documented delays of hardware protocols
        // (INIT-SIPI), never for waiting on events.
        public static void DelayMicroseconds(ulong us)
        {
            ulong end = Cpu.ReadTsc() + s_tscPerMs * us / 1000;
            while (Cpu.ReadTsc() < end) Cpu.Pause();
        }

        // A TSC deadline `ms` milliseconds from now, for timeouts.
        public static ulong DeadlineAfterMs(ulong ms) => Cpu.ReadTsc() + s_tscPerMs * ms;
        public static bool Passed(ulong deadline) => Cpu.ReadTsc() >= deadline;

        public static ulong NanosecondsSinceBoot() => Nanoseconds(Cpu.ReadTsc() - s_entryTsc);
        public static ulong MillisecondsSinceBoot() => NanosecondsSinceBoot() / 1_000_000;

        public static ulong Nanoseconds(ulong ticks)
        {
            if (s_tscPerMs == 0) return 0;
            return ticks / s_tscPerMs * 1_000_000 + ticks % s_tscPerMs * 1_000_000 / s_tscPerMs;
        }
    }
}
