// The HPET, found through the ACPI "HPET" table and mapped uncached. Percy does not
// schedule yet, so the HPET only reports what it is; its registers being readable proves
// the uncached MMIO mapping works.
using Percy.Kernel.Acpi;
using Percy.Kernel.Mm;

namespace Percy.Kernel.Arch
{
    internal static unsafe class Hpet
    {
        // ACPI HPET table: the base address is a generic address structure at offset 40
        // (address space byte first, the 64-bit address at +4).
        const uint AddressStructOffset = 40, AddressOffset = 44, MinimumTableLength = 56;
        const ulong RegisterBlockSize = 0x400;
        // General Capabilities and ID register: period (fs) in bits 63:32, last timer
        // index in bits 12:8, 64-bit main counter in bit 13.
        const int PeriodShift = 32, TimersShift = 8, CounterSize64Bit = 13;
        const ulong FemtosecondsPerSecond = 1_000_000_000_000_000;

        // Registers, as 64-bit words: general configuration (bit 0 runs the main counter)
        // and the main counter.
        const int ConfigurationWord = 0x10 / 8, MainCounterWord = 0xF0 / 8;
        const ulong EnableCounter = 1;
        const ulong CalibrationMs = 10, MillisecondsPerSecond = 1000, FemtosecondsPerNanosecond = 1_000_000, NanosecondsPerMs = 1_000_000;
        // A measurement gives up after this many TSC cycles (4 s at 1 GHz): a dead counter.
        const ulong WaitLimitCycles = 4_000_000_000;

        static ulong* s_registers;
        static ulong s_physical;
        static bool s_looked;

        // Finds and maps the HPET once; null (with a warning logged) if there is none to use.
        static ulong* Registers()
        {
            if (s_looked) return s_registers;
            s_looked = true;
            AcpiTableDirectory tables = AcpiBoot.Tables;
            if (tables == null || !tables.Find(AcpiSignature.Hpet, 0, out AcpiTableEntry entry)) return null;
            byte* table = tables.Window.Pointer(entry.Physical);
            if (entry.Length < MinimumTableLength || table[AddressStructOffset] != GenericAddress.SystemMemory)
            {
                Log.Warn("hpet: warning: HPET table too short or not in memory space; HPET not used");
                return null;
            }
            ulong physical = *(ulong*)(table + AddressOffset);
            ulong* registers = (ulong*)IoMap.Map(physical, RegisterBlockSize, out string error);
            if (registers == null)
            {
                Log.Warn($"hpet: warning: cannot map {physical:x}: {error}");
                return null;
            }
            if (registers[0] >> PeriodShift == 0)
            {
                Log.Warn($"hpet: warning: registers at {physical:x} read a zero period; HPET not used");
                return null;
            }
            s_physical = physical;
            s_registers = registers;
            return registers;
        }

        public static void Init()
        {
            ulong* registers = Registers();
            if (registers == null) return;
            ulong capabilities = registers[0];
            ulong period = capabilities >> PeriodShift;
            Log.Info($"hpet: at 0x{s_physical:x}, {(capabilities >> TimersShift & 0x1F) + 1} timers, {((capabilities >> CounterSize64Bit & 1) != 0 ? 64 : 32)}-bit counter, {FemtosecondsPerSecond / period} Hz");
        }

        // When the PIT could not time the TSC (Clock.NeedsReference), the HPET's main
        // counter does: run it if the firmware left it stopped, count 10 ms of it.
        public static void CalibrateClock()
        {
            if (!Clock.NeedsReference) return;
            ulong* registers = Registers();
            if (registers == null)
            {
                Log.Warn($"clock: warning: no HPET to measure the TSC; it stays at {Clock.TscPerMs / 1000} MHz ({(Clock.Source == ClockSource.Cpuid ? "from CPUID" : "assumed")})");
                return;
            }
            ulong period = registers[0] >> PeriodShift;
            bool wide = (registers[0] >> CounterSize64Bit & 1) != 0;
            registers[ConfigurationWord] |= EnableCounter;
            ulong ticks = FemtosecondsPerSecond / period * CalibrationMs / MillisecondsPerSecond;
            ulong start = Counter(registers, wide), tscStart = Cpu.ReadTsc(), elapsed = 0;
            while ((elapsed = Counter(registers, wide) - start & (wide ? ulong.MaxValue : uint.MaxValue)) < ticks
                   && Cpu.ReadTsc() - tscStart < WaitLimitCycles) Cpu.Pause();
            ulong cycles = Cpu.ReadTsc() - tscStart;
            ulong nanoseconds = elapsed * period / FemtosecondsPerNanosecond;
            if (elapsed >= ticks && nanoseconds > 0 && Clock.TryUseMeasured(cycles * NanosecondsPerMs / nanoseconds, ClockSource.Hpet))
                Log.Info($"clock: TSC measured against the HPET: {Clock.TscPerMs / 1000} MHz");
            else
                Log.Warn($"clock: warning: the HPET did not give a usable TSC rate; it stays at {Clock.TscPerMs / 1000} MHz");
        }

        static ulong Counter(ulong* registers, bool wide) => wide ? registers[MainCounterWord] : (uint)registers[MainCounterWord];
    }
}
