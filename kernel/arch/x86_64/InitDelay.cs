// Whether the boot CPU must wait 10 ms after INIT before the first startup IPI. The MP
// specification asks for it, for the external local APICs of the 1990s (82489DX). Linux
// skips it on the CPUs it knows do not need it (arch/x86/kernel/smpboot.c,
// smp_quirk_init_udelay): Intel family 6, AMD family 0Fh and later, Hygon family 18h and
// later. Percy follows the same list: on every other CPU it waits.
// Pure logic over CPUID leaves 0 and 1, compiled into the host tests too.
namespace Percy.Kernel.Arch
{
    public static class InitDelay
    {
        // CPUID.0 returns the vendor string in EBX, EDX, ECX, four ASCII bytes each,
        // little-endian: "GenuineIntel" is "Genu" "ineI" "ntel".
        const uint IntelEbx = 0x756E6547, IntelEdx = 0x49656E69, IntelEcx = 0x6C65746E;
        const uint AmdEbx = 0x68747541, AmdEdx = 0x69746E65, AmdEcx = 0x444D4163;          // "AuthenticAMD"
        const uint HygonEbx = 0x6F677948, HygonEdx = 0x6E65476E, HygonEcx = 0x656E6975;    // "HygonGenuine"

        const uint IntelModernFamily = 6, AmdModernFamily = 0x0F, HygonModernFamily = 0x18;

        // CPUID.1 EAX: the base family in bits 11:8; when it is 0Fh, the extended family
        // in bits 27:20 is added to it.
        const int FamilyShift = 8, ExtendedFamilyShift = 20;
        const uint FamilyMask = 0xF, ExtendedFamilyMask = 0xFF, ExtendedFamilyMarker = 0xF;

        public const ulong LegacyDelayUs = 10_000;

        public static uint Family(uint cpuid1Eax)
        {
            uint family = (cpuid1Eax >> FamilyShift) & FamilyMask;
            return family == ExtendedFamilyMarker ? family + ((cpuid1Eax >> ExtendedFamilyShift) & ExtendedFamilyMask) : family;
        }

        public static bool Needed(uint vendorEbx, uint vendorEdx, uint vendorEcx, uint cpuid1Eax)
        {
            uint family = Family(cpuid1Eax);
            if (vendorEbx == IntelEbx && vendorEdx == IntelEdx && vendorEcx == IntelEcx) return family != IntelModernFamily;
            if (vendorEbx == AmdEbx && vendorEdx == AmdEdx && vendorEcx == AmdEcx) return family < AmdModernFamily;
            if (vendorEbx == HygonEbx && vendorEdx == HygonEdx && vendorEcx == HygonEcx) return family < HygonModernFamily;
            return true;
        }
    }
}
