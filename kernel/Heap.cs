// The boot heap: a bump allocator over a fixed arena in .bss. It serves the runtime's
// object allocations and boot-time tables until the memory subsystem takes over;
// nothing allocated here is ever freed.
namespace Percy.Kernel
{
    internal static unsafe class Heap
    {
        const ulong ArenaSize = 4 * 1024 * 1024;
        const ulong Alignment = 16;

        unsafe struct Arena { public fixed byte Bytes[(int)ArenaSize]; }
        static Arena s_arena;
        static ulong s_used;

        public static ulong Used => s_used;
        public static ulong Size => ArenaSize;

        // Zeroed memory: .bss starts zeroed and nothing is ever returned.
        public static void* Allocate(ulong size)
        {
            ulong start = (s_used + Alignment - 1) & ~(Alignment - 1);
            if (size > ArenaSize || start > ArenaSize - size)
                Panic.Fail("boot heap exhausted");
            s_used = start + size;
            fixed (byte* arena = s_arena.Bytes) return arena + start;
        }
    }
}
