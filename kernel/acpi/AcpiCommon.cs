// Shared pieces of the ACPI table readers: the window of physical memory the caller
// lets them read, checksums, signatures, and the list of problems found.
// Everything under kernel/acpi is pure logic: it reads tables that the caller has made
// readable and never touches hardware, so the host tests run it on tables they build.
namespace Percy.Kernel.Acpi
{
    // The physical range [Start, End) that may be read, and how to turn a physical
    // address into a pointer: pointer = physical + PhysToVirt (wrapping). The kernel
    // passes its identity-mapped range and 0; host tests pass a pinned buffer's address
    // minus the fake physical base it stands for.
    public unsafe struct PhysicalWindow
    {
        public ulong Start;
        public ulong End;
        public ulong PhysToVirt;

        public PhysicalWindow(ulong start, ulong end, ulong physToVirt)
        {
            Start = start;
            End = end < start ? start : end;
            PhysToVirt = physToVirt;
        }

        // True when all of [physical, physical + length) lies inside the window.
        public bool Contains(ulong physical, ulong length)
            => physical >= Start && physical <= End && length <= End - physical;

        public byte* Pointer(ulong physical) => (byte*)(physical + PhysToVirt);
    }

    // Table signatures as a table's first four bytes read as a little-endian u32.
    public static class AcpiSignature
    {
        public const uint Rsdt = 0x54445352;        // "RSDT"
        public const uint Xsdt = 0x54445358;        // "XSDT"
        public const uint Fadt = 0x50434146;        // "FACP"
        public const uint Dsdt = 0x54445344;        // "DSDT"
        public const uint Ssdt = 0x54445353;        // "SSDT"
        public const uint Madt = 0x43495041;        // "APIC"
        public const uint Hpet = 0x54455048;        // "HPET"
        public const uint Mcfg = 0x4746434D;        // "MCFG"
    }

    public static unsafe class AcpiBytes
    {
        // The byte sum of a table; a valid table sums to 0.
        public static byte Sum(byte* p, ulong length)
        {
            byte sum = 0;
            for (ulong i = 0; i < length; i++) sum += p[i];
            return sum;
        }

        // "APIC" → 0x43495041, the u32 a table's first four bytes read as. 0 unless the
        // text is exactly four ASCII characters.
        public static uint Signature(string text)
        {
            if (text == null || text.Length != 4) return 0;
            uint value = 0;
            for (int i = 3; i >= 0; i--)
            {
                char c = text[i];
                if (c > 0x7F) return 0;
                value = (value << 8) | c;
            }
            return value;
        }

        public static bool BytesEqual(byte* p, string text)
        {
            for (int i = 0; i < text.Length; i++)
                if (p[i] != text[i]) return false;
            return true;
        }
    }
}
