// Device registers (MMIO: local APIC, I/O APIC, HPET) mapped uncached in the vmap area:
// cached, the CPU could combine, reorder or skip device accesses. Mappings are handed
// out upwards and kept for the life of the kernel (devices are not unplugged).
namespace Percy.Kernel.Mm
{
    internal static unsafe class IoMap
    {
        const ulong Page = AddressSpace.PageSize;

        static ulong s_next = AddressSpace.IoMapBase;

        // The virtual address of physical `address`, whose `size` bytes are mapped
        // uncached; null with a reason when it cannot be mapped.
        public static byte* Map(ulong address, ulong size, out string error)
        {
            ulong first = address & ~(Page - 1);
            ulong bytes = Bootmem.RoundUp(address + size, Page) - first;
            error = null;
            if (size == 0 || address + size < address) error = "empty or wrapping range";
            else if (s_next + bytes > AddressSpace.IoMapBase + AddressSpace.IoMapSize) error = "MMIO window full";
            else error = KernelPageTables.Kernel.Map(s_next, first, bytes, Page, PageFlags.KernelReadWrite | PageFlags.Uncached);
            if (error != null) return null;
            byte* virt = (byte*)(s_next + (address - first));
            s_next += bytes;
            return virt;
        }
    }
}
