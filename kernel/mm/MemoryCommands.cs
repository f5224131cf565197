// `mem`: the memory map as the kernel saw it, bootmem's reservations, the page
// allocator, the heap, kernel stacks and page-table pages per CPU.
using Percy.Kernel.Multiboot;
using Percy.Kernel.Shell;

namespace Percy.Kernel.Mm
{
    internal static unsafe class MemoryCommands
    {
        const ulong Page = AddressSpace.PageSize;

        public static void Register() =>
            Shell.Shell.Register("mem", "mem", "show the memory map and memory use", &Mem);

        static void Mem(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            ulong usable = 0;
            Console.Console.WriteLine("memory map (normalised):");
            for (int i = 0; i < PhysicalMemory.MapCount; i++)
            {
                MemoryRegion r = PhysicalMemory.Map[i];
                if (r.Type == MemoryRegionType.Available) usable += r.Length;
                Console.Console.WriteLine($"  [mem {r.Base:x16}-{r.Base + r.Length - 1:x16}] {TypeName(r.Type),-10} {r.Length / 1024,10} KiB");
            }
            Console.Console.WriteLine($"usable: {usable / 1024} KiB in {PhysicalMemory.MapCount} regions");

            Bootmem b = PhysicalMemory.Bootmem;
            Console.Console.WriteLine($"bootmem reservations (at hand-over): {b.ReservedMemory() / 1024} KiB of RAM");
            for (int i = 0; i < b.ReservedCount; i++)
            {
                PhysicalRange r = b.ReservedAt(i);
                Console.Console.WriteLine($"  [{r.Base:x16}-{r.End - 1:x16}] {r.Size / 1024,8} KiB  {r.Owner}");
            }

            // Every usable byte is either the page allocator's or reserved; what is neither sits
            // in pages that are only partly reserved (the page allocator takes whole pages).
            PageAllocator p = PhysicalMemory.Pages;
            ulong managed = p.ManagedPages * Page, reserved = b.ReservedMemory(), total = b.TotalMemory();
            Console.Console.WriteLine($"accounting: map_usable={usable / 1024} bootmem={total / 1024} managed={managed / 1024} reserved={reserved / 1024} partial={(total - managed - reserved) / 1024} KiB");
            Console.Console.WriteLine($"pages: managed={p.ManagedPages} free={p.FreePages} used={p.UsedPages} ({p.FreePages * Page / 1024} KiB free)");
            TextLine blocks = $"  free blocks by order:";
            for (int o = 0; o <= PageAllocator.MaxOrder; o++) blocks.AppendFormatted($" {p.FreeBlocks(o)}");
            Console.Console.WriteLine(blocks);
            Console.Console.WriteLine($"heap: {KernelHeap.BytesInUse} bytes in {KernelHeap.PagesInUse} pages, allocs={KernelHeap.Allocations} frees={KernelHeap.Frees}; boot arena {Heap.BootArenaUsed / 1024} of {Heap.BootArenaSize / 1024} KiB");
            Console.Console.WriteLine($"kernel stacks: {KernelStacks.PagesInUse} pages");
            Console.Console.WriteLine($"page tables: {KernelPageTables.SharedTablePages} pages shared by all CPUs");
            for (int cpu = 0; cpu < KernelPageTables.PossibleCpus; cpu++)
                Console.Console.WriteLine($"  cpu{cpu}: {KernelPageTables.PrivateTablePages(cpu)} private pages (PML4 {KernelPageTables.CpuRoots[cpu]:x})");
        }

        static string TypeName(uint type) => type switch
        {
            MemoryRegionType.Available => "usable",
            MemoryRegionType.AcpiReclaimable => "ACPI data",
            MemoryRegionType.AcpiNvs => "ACPI NVS",
            MemoryRegionType.BadMemory => "unusable",
            _ => "reserved",
        };
    }
}
