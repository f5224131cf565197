// Physical memory as the kernel reaches it: physical address + DirectMapBase. The boot
// stub maps physical 0..4 GiB there; the kernel's own tables extend it to all memory.
namespace Percy.Kernel.Mm
{
    internal static unsafe class DirectMap
    {
        public const ulong Offset = AddressSpace.DirectMapBase;
        const ulong BootLimit = 4ul << 30;

        static ulong s_limit = BootLimit;

        public static ulong Limit => s_limit;
        public static byte* ToVirtual(ulong physical) => (byte*)(physical + Offset);
        public static ulong ToPhysical(void* virt) => (ulong)virt - Offset;
        public static bool Covers(ulong physical, ulong size) => physical < s_limit && size <= s_limit - physical;

        // Called once the kernel's own tables map all memory below `limit`.
        public static void Extend(ulong limit) => s_limit = limit;
    }
}
