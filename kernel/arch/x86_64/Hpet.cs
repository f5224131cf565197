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

        public static void Init()
        {
            AcpiTableDirectory tables = AcpiBoot.Tables;
            if (tables == null || !tables.Find(AcpiSignature.Hpet, 0, out AcpiTableEntry entry)) return;
            byte* table = tables.Window.Pointer(entry.Physical);
            if (entry.Length < MinimumTableLength || table[AddressStructOffset] != GenericAddress.SystemMemory)
            {
                Log.Warn("hpet: warning: HPET table too short or not in memory space; HPET not used");
                return;
            }
            ulong physical = *(ulong*)(table + AddressOffset);
            ulong* registers = (ulong*)IoMap.Map(physical, RegisterBlockSize, out string error);
            if (registers == null)
            {
                Log.Warn($"hpet: warning: cannot map {physical:x}: {error}");
                return;
            }
            ulong capabilities = registers[0];
            ulong period = capabilities >> PeriodShift;
            if (period == 0)
            {
                Log.Warn($"hpet: warning: registers at {physical:x} read a zero period; HPET not used");
                return;
            }
            Log.Info($"hpet: at 0x{physical:x}, {(capabilities >> TimersShift & 0x1F) + 1} timers, {((capabilities >> CounterSize64Bit & 1) != 0 ? 64 : 32)}-bit counter, {FemtosecondsPerSecond / period} Hz");
        }
    }
}
