// The pages of a module image, in the module area (ModuleArea) of the kernel's shared
// page tables. The loader maps an image writable and not executable, fills and relocates
// it through its own addresses, then gives each region its final protection (W^X):
// text read + execute, read-only data read, data read + write. Unmapping returns every
// page to the page allocator and flushes every CPU's TLB: other CPUs ran the module's
// code and may still cache its translations.
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Modules
{
    internal static unsafe class ModuleMemory
    {
        const ulong Page = AddressSpace.PageSize;

        static ModuleArea s_area;

        public static ModuleArea Area => s_area;

        public static void Init() => s_area = new ModuleArea(AddressSpace.ModulesBase, AddressSpace.ModulesEnd, Page);

        // Reserves `size` bytes (whole pages) of the module area and maps fresh zeroed pages
        // there, read + write, no execute. All or nothing. Null, or why not.
        public static string Map(ulong size, out ulong address)
        {
            string error = s_area.TryAllocate(size, out address);
            if (error != null) return error;
            for (ulong off = 0; off < size; off += Page)
            {
                ulong phys = PhysicalMemory.AllocatePages(0, true);
                if (phys != 0 && KernelPageTables.Kernel.Map(address + off, phys, Page, Page, PageFlags.KernelReadWrite) == null)
                    continue;
                if (phys != 0) PhysicalMemory.FreePages(phys, 0);
                Unmap(address, off);
                address = 0;
                return "out of memory for the module image";
            }
            return null;
        }

        // The final protections, then a TLB flush on every CPU (a CPU may have cached a
        // writable translation speculatively).
        public static void Protect(ModuleImageLayout layout, ulong address)
        {
            PageTable k = KernelPageTables.Kernel;
            k.Protect(address + layout.TextOffset, layout.TextMappedSize, PageFlags.KernelExecute);
            k.Protect(address + layout.ReadOnlyOffset, layout.ReadOnlyMappedSize, PageFlags.KernelRead);
            FlushEverywhere(address, layout.ImageSize);
        }

        // Unmaps the image, frees its pages and gives its range back. size 0 is fine.
        public static void Unmap(ulong address, ulong size)
        {
            PageTable k = KernelPageTables.Kernel;
            for (ulong off = 0; off < size; off += Page)
            {
                if (!k.Translate(address + off, out ulong phys, out _)) continue;
                k.Unmap(address + off, Page);
                PhysicalMemory.FreePages(phys, 0);
            }
            FlushEverywhere(address, size);
            s_area.Free(address);
        }

        struct Range { public ulong Address, Size; }

        static void FlushEverywhere(ulong address, ulong size)
        {
            Range r = new Range { Address = address, Size = size };
            SmpCall.Call(SmpCall.AllCpus, &Flush, &r, true);
        }

        static void Flush(void* arg)
        {
            var r = (Range*)arg;
            for (ulong off = 0; off < r->Size; off += Page) Cpu.InvalidatePage(r->Address + off);
        }
    }
}
