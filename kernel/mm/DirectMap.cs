// Physical memory as the kernel reaches it. The boot stub maps physical 0..4 GiB one
// to one, so a physical address below 4 GiB is also its virtual address.
namespace Percy.Kernel.Mm
{
    internal static unsafe class DirectMap
    {
        public const ulong Offset = 0;
        public const ulong Limit = 4ul << 30;       // what the boot map covers

        public static byte* ToVirtual(ulong physical) => (byte*)(physical + Offset);
        public static bool Covers(ulong physical, ulong size) => physical < Limit && size <= Limit - physical;
    }
}
