// Time since kernel entry, from the TSC. The TSC rate is measured once against the
// PIT (whose input clock is a fixed 1.193182 MHz), using channel 2, which can be
// gated and read back through port 0x61 without interrupts.
//
// Real machines may have no working PIT: recent Intel boards can gate the 8254's clock
// (a firmware option), and legacy-free ones leave it out. Then channel 2 never counts
// (polling for its output would hang) or the ports read 0xFF (the wait ends at once and
// the rate is nonsense, and with it every timeout). So the wait is bounded, the rate
// must be plausible, and otherwise the rate
// comes from CPUID leaf 0x15/0x16 (Intel, Skylake on), or is assumed high — a too-high
// rate makes delays longer than asked, never shorter — until the HPET can measure it
// (Hpet.CalibrateClock, before anything times a device).
namespace Percy.Kernel.Arch
{
    internal enum ClockSource
    {
        Pit,
        Cpuid,
        Hpet,
        Assumed,
    }

    internal static unsafe class Clock
    {
        const uint PitHz = 1193182;
        const uint CalibrationMs = 10;
        const ushort PitChannel2 = 0x42, PitCommand = 0x43, PitGatePort = 0x61;
        const byte Channel2OneShot = 0xB0;           // channel 2, lo/hi byte, mode 0
        const byte GateOn = 0x01, SpeakerOff = 0x02, OutputHigh = 0x20;

        // A PIT wait of CalibrationMs gives up after this many TSC cycles: 4 s at 1 GHz.
        const ulong PitWaitLimitCycles = 4_000_000_000;
        // TSC rates outside 100 MHz .. 10 GHz are measurement failures, not CPUs.
        const ulong MinTscPerMs = 100_000, MaxTscPerMs = 10_000_000;
        // With nothing to measure against: 5 GHz, above any x86-64 CPU's TSC.
        const ulong AssumedTscPerMs = 5_000_000;

        const uint CpuidTscLeaf = 0x15, CpuidFrequencyLeaf = 0x16;

        static ulong s_entryTsc;
        static ulong s_tscPerMs;                     // 0 until calibrated: time reads as 0, as Linux's does early
        static ClockSource s_source;

        public static ulong TscPerMs => s_tscPerMs;
        public static ClockSource Source => s_source;
        // True while the rate is a guess that a timer (the HPET) should replace.
        public static bool NeedsReference => s_source == ClockSource.Assumed || s_source == ClockSource.Cpuid;

        // Returns null, or why the PIT could not be used (the rate then comes from elsewhere).
        public static string Calibrate()
        {
            s_entryTsc = Boot.EntryTsc;
            string pitProblem = MeasureWithPit(out ulong perMs);
            if (pitProblem == null)
            {
                Use(perMs, ClockSource.Pit);
                return null;
            }
            if (FromCpuid(out perMs)) Use(perMs, ClockSource.Cpuid);
            else Use(AssumedTscPerMs, ClockSource.Assumed);
            return pitProblem;
        }

        // A rate measured against another timer (the HPET), if it is plausible.
        public static bool TryUseMeasured(ulong tscPerMs, ClockSource source)
        {
            if (tscPerMs < MinTscPerMs || tscPerMs > MaxTscPerMs) return false;
            Use(tscPerMs, source);
            return true;
        }

        static void Use(ulong tscPerMs, ClockSource source)
        {
            s_tscPerMs = tscPerMs;
            s_source = source;
        }

        static string MeasureWithPit(out ulong tscPerMs)
        {
            tscPerMs = 0;
            byte gate = StartPitOneShot(CalibrationMs);
            ulong start = Cpu.ReadTsc();
            bool expired = WaitPitOneShot(gate, start + PitWaitLimitCycles);
            ulong elapsed = Cpu.ReadTsc() - start;
            if (!expired) return "the PIT does not count (8254 clock gated?)";
            tscPerMs = elapsed / CalibrationMs;
            // No PIT at all: port 0x61 reads 0xFF, "expired" at once, a rate far too low.
            if (tscPerMs < MinTscPerMs || tscPerMs > MaxTscPerMs) return "the PIT gives an implausible TSC rate (no PIT?)";
            return null;
        }

        // CPUID 0x15: TSC = crystal * EBX / EAX (ECX the crystal in Hz, 0 if not given);
        // else 0x16 EAX, the base frequency in MHz (the TSC's on the CPUs that have 0x16).
        static bool FromCpuid(out ulong tscPerMs)
        {
            tscPerMs = 0;
            uint* r = stackalloc uint[4];
            Cpu.CpuId(Cpu.CpuidBasicLeaf, 0, r);
            uint maxLeaf = r[Cpu.Eax];
            if (maxLeaf >= CpuidTscLeaf)
            {
                Cpu.CpuId(CpuidTscLeaf, 0, r);
                if (r[Cpu.Eax] != 0 && r[Cpu.Ebx] != 0 && r[Cpu.Ecx] != 0) tscPerMs = (ulong)r[Cpu.Ecx] * r[Cpu.Ebx] / r[Cpu.Eax] / 1000;
            }
            if (tscPerMs == 0 && maxLeaf >= CpuidFrequencyLeaf)
            {
                Cpu.CpuId(CpuidFrequencyLeaf, 0, r);
                tscPerMs = (ulong)(r[Cpu.Eax] & 0xFFFF) * 1000;
            }
            return tscPerMs >= MinTscPerMs && tscPerMs <= MaxTscPerMs;
        }

        // Starts PIT channel 2 counting down `ms` milliseconds (at most 54); returns the
        // old port 0x61 value for WaitPitOneShot.
        static byte StartPitOneShot(uint ms)
        {
            uint count = PitHz * ms / 1000;
            byte gate = Cpu.InB(PitGatePort);
            Cpu.OutB(PitGatePort, (byte)((gate & ~SpeakerOff) | GateOn));
            Cpu.OutB(PitCommand, Channel2OneShot);
            Cpu.OutB(PitChannel2, (byte)count);
            Cpu.OutB(PitChannel2, (byte)(count >> 8));
            return gate;
        }

        // Polls until the count started by StartPitOneShot reaches zero or the TSC passes
        // `limit`, then restores the gate; false if the count never ended.
        static bool WaitPitOneShot(byte gate, ulong limit)
        {
            bool expired;
            while (!(expired = (Cpu.InB(PitGatePort) & OutputHigh) != 0) && Cpu.ReadTsc() < limit) Cpu.Pause();
            Cpu.OutB(PitGatePort, gate);
            return expired;
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
