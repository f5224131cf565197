// Which local APIC mode to run in, and how to get there: pure logic over CPUID and the
// IA32_APIC_BASE MSR, compiled into the host tests too. QEMU 7.2's TCG never offers x2APIC
// (it drops the CPUID flag), so the x2APIC branches can only be exercised there, not booted.
//
// Rules (Intel SDM vol. 3, "x2APIC State Transitions"): the APIC is either disabled
// (EN=0, EXTD=0), in xAPIC mode (EN=1, EXTD=0) or in x2APIC mode (EN=1, EXTD=1); EN=0 with
// EXTD=1 is invalid. x2APIC is entered from xAPIC mode. Leaving x2APIC for xAPIC directly
// is a #GP, and firmware may lock x2APIC on, so once the firmware has chosen x2APIC Percy
// keeps it, as Linux does.
namespace Percy.Kernel.Arch
{
    public enum ApicModeKind
    {
        XApic,
        X2Apic,
    }

    public static class ApicMode
    {
        public const uint Cpuid1EcxX2Apic = 1u << 21;      // CPUID.01H:ECX bit 21
        public const ulong BaseEnable = 1ul << 11;          // IA32_APIC_BASE.EN
        public const ulong BaseExtended = 1ul << 10;        // IA32_APIC_BASE.EXTD (x2APIC)
        public const uint X2ApicMsrBase = 0x800;            // x2APIC registers: 0x800 + offset / 16
        const int XApicIdShift = 24;                        // xAPIC ID register: id in bits 31:24
        const int X2ApicIcrDestinationShift = 32;           // x2APIC ICR: destination in bits 63:32

        // The kernel command-line flag that asks for xAPIC even when x2APIC is offered
        // (Linux's name): for a machine whose x2APIC misbehaves.
        public const string NoX2ApicOption = "nox2apic";

        // `note` explains a choice that differs from what was asked for, else null.
        public static ApicModeKind Choose(uint cpuid1Ecx, ulong apicBase, bool noX2Apic, out string note)
        {
            note = null;
            if (InX2ApicMode(apicBase))
            {
                if (noX2Apic) note = NoX2ApicOption + " ignored: the firmware left the APIC in x2APIC mode";
                return ApicModeKind.X2Apic;
            }
            if ((cpuid1Ecx & Cpuid1EcxX2Apic) == 0) return ApicModeKind.XApic;
            if (noX2Apic)
            {
                note = "x2APIC offered, " + NoX2ApicOption + " given: xAPIC mode";
                return ApicModeKind.XApic;
            }
            return ApicModeKind.X2Apic;
        }

        public static bool InX2ApicMode(ulong apicBase) => (apicBase & (BaseEnable | BaseExtended)) == (BaseEnable | BaseExtended);

        // The IA32_APIC_BASE values to write, in order, to enable the APIC in `mode` from
        // `current` (address and other bits kept): xAPIC first, then x2APIC from there.
        // Returns how many of first/second to write (0, 1 or 2).
        public static int EnableSteps(ulong current, ApicModeKind mode, out ulong first, out ulong second)
        {
            first = second = 0;
            ulong xapic = (current & ~BaseExtended) | BaseEnable;
            if (mode == ApicModeKind.X2Apic)
            {
                if (InX2ApicMode(current)) return 0;
                if ((current & BaseEnable) != 0)
                {
                    first = xapic | BaseExtended;
                    return 1;
                }
                first = xapic;
                second = xapic | BaseExtended;
                return 2;
            }
            // xAPIC is never asked for while in x2APIC mode (Choose keeps x2APIC then).
            if ((current & BaseEnable) != 0) return 0;
            first = xapic;
            return 1;
        }

        // The MSR that holds an xAPIC register (its offset in the MMIO page) in x2APIC mode.
        public static uint MsrOf(uint registerOffset) => X2ApicMsrBase + (registerOffset >> 4);

        // The ID register's value as an APIC id: all 32 bits in x2APIC mode, 8 bits in xAPIC.
        public static uint IdFromRegister(uint value, ApicModeKind mode) =>
            mode == ApicModeKind.X2Apic ? value : value >> XApicIdShift;

        // The xAPIC ICR high word (destination in bits 31:24).
        public static uint XApicIcrHigh(uint apicId) => apicId << XApicIdShift;

        // The x2APIC ICR, one 64-bit MSR write: destination id in the high half.
        public static ulong X2ApicIcr(uint apicId, uint low) => (ulong)apicId << X2ApicIcrDestinationShift | low;

        // xAPIC ids are 8 bits: a CPU with a larger id can only be reached in x2APIC mode.
        public static bool CanAddress(uint apicId, ApicModeKind mode) => mode == ApicModeKind.X2Apic || apicId <= 0xFF;
    }
}
