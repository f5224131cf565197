// Kernel stacks in the vmap area, each with an unmapped guard page below it, so an
// overflow faults instead of silently overwriting the neighbour. The pages come from
// the page allocator; the virtual range is handed out upwards and never reused
// (stacks live as long as their CPU).
namespace Percy.Kernel.Mm
{
    internal static unsafe class KernelStacks
    {
        const ulong Page = AddressSpace.PageSize;
        const ulong StacksBase = AddressSpace.KernelStacksBase;
        const ulong StacksSize = AddressSpace.KernelStacksSize;

        static ulong s_next = StacksBase;
        static ulong s_pages;

        public static ulong PagesInUse => s_pages;

        // Returns the stack's top (initial RSP) or 0 when out of memory.
        public static ulong Allocate(ulong size, out ulong bottom)
        {
            size = Bootmem.RoundUp(size, Page);
            bottom = 0;
            if (s_next + Page + size > StacksBase + StacksSize) return 0;
            ulong guard = s_next, start = guard + Page;
            for (ulong v = start; v < start + size; v += Page)
            {
                // Not zeroed: a stack needs no initial contents, and zeroing would touch every
                // page at once (under emulation each first touch costs; fault stacks are
                // normally never touched at all).
                ulong phys = PhysicalMemory.AllocatePages(0, false);
                if (phys == 0 || KernelPageTables.Kernel.Map(v, phys, Page, Page, PageFlags.KernelReadWrite) != null)
                {
                    Release(start, v);
                    if (phys != 0) PhysicalMemory.FreePages(phys, 0);
                    return 0;
                }
            }
            s_next = start + size;
            s_pages += size / Page;
            bottom = start;
            return start + size;
        }

        // Returns a stack's pages; its virtual range (and guard) is not reused.
        public static void Free(ulong bottom, ulong top)
        {
            Release(bottom, top);
            s_pages -= (top - bottom) / Page;
        }

        static void Release(ulong start, ulong end)
        {
            for (ulong v = start; v < end; v += Page)
            {
                if (KernelPageTables.Kernel.Translate(v, out ulong phys, out _)) PhysicalMemory.FreePages(phys, 0);
                KernelPageTables.Kernel.Unmap(v, Page);
                Arch.Cpu.InvalidatePage(v);
            }
        }
    }
}
