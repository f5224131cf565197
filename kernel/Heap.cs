// The kernel's allocation front door, used by the runtime (`new`) and kernel code.
// Until the page allocator runs, memory comes from the boot arena, a bump allocator
// over a fixed region in .bss whose objects live forever; after that, from the kernel
// heap (kernel/mm/KernelHeap.cs), which can free.
using Percy.Kernel.Mm;

namespace Percy.Kernel
{
    internal static unsafe class Heap
    {
        const ulong ArenaSize = 1 * 1024 * 1024;
        const ulong Alignment = 16;

        unsafe struct Arena { public fixed byte Bytes[(int)ArenaSize]; }
        static Arena s_arena;
        static ulong s_used;

        public static ulong BootArenaUsed => s_used;
        public static ulong BootArenaSize => ArenaSize;

        // Zeroed memory; panics when memory is exhausted.
        public static void* Allocate(ulong size)
        {
            if (KernelHeap.Ready)
            {
                void* p = KernelHeap.Allocate(size);
                if (p == null) Panic.Fail($"out of memory: kernel heap cannot allocate {size} bytes");
                return p;
            }
            ulong start = (s_used + Alignment - 1) & ~(Alignment - 1);
            if (size > ArenaSize || start > ArenaSize - size)
                Panic.Fail("boot arena exhausted");
            s_used = start + size;
            // .bss starts zeroed and the arena never reuses memory.
            fixed (byte* arena = s_arena.Bytes) return arena + start;
        }

        // Returns memory to the kernel heap; false for boot-arena or foreign pointers.
        public static bool Free(void* p) => KernelHeap.Ready && KernelHeap.Free(p);

        // Deletes an object (or array) made by `new`: Percy has no garbage collector, so code
        // that makes objects over and over (the module loader's per-load tables) frees them,
        // or the heap would grow with every load. The caller must hold the only reference.
        // Only for objects made after the kernel heap started (the boot arena never frees).
        public static void FreeObject(object o)
        {
            if (o != null && !Free(*(void**)System.Runtime.CompilerServices.Unsafe.AsPointer(ref o)))
                Panic.Fail("FreeObject: not an object of the kernel heap");
        }
    }
}
