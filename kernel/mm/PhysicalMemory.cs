// Physical memory at boot: bootmem is built from the firmware's memory map and the
// ranges the kernel must not hand out are reserved; when boot allocation is over,
// every free page goes to the page allocator and bootmem retires.
using Percy.Kernel.Arch;
using Percy.Kernel.Multiboot;

namespace Percy.Kernel.Mm
{
    internal static unsafe class PhysicalMemory
    {
        const ulong Page = AddressSpace.PageSize;
        const ulong LowMemoryEnd = 1ul << 20;                  // real-mode memory: BIOS data, EBDA, ROMs
        const ulong KernelLoadAddress = 0x100000;              // KERNEL_LMA in linker.ld
        // Below this much free memory after the boot reservations Percy cannot run.
        const ulong MinimumFreeMemory = 8ul << 20;

        public static Bootmem Bootmem;
        public static PageAllocator Pages;
        public static ulong TrampolinePage;                    // below 1 MiB, for starting APs
        public static MemoryRegion[] Map;                      // the normalised firmware map
        public static int MapCount;
        public static ulong HighestAddress;                    // end of the highest region the direct map covers

        public static void InitBootmem(BootInformation info)
        {
            Map = new MemoryRegion[2 * BootInformation.MaxMemoryRegions];
            var scratch = new ulong[2 * BootInformation.MaxMemoryRegions];
            var warnings = new ProblemList();
            MapCount = MemoryMapNormalizer.Normalize(info.MemoryMap, info.MemoryMapCount, Map, scratch, warnings,
                                                     out ulong usable, out string error);
            if (MapCount < 0) Panic.Fail(error);
            for (int i = 0; i < warnings.Count; i++)
                Log.Warn($"bootmem: warning: memory map entry {warnings[i].Code}: {warnings[i].Reason}; ignored");

            Bootmem = new Bootmem();
            for (int i = 0; i < MapCount; i++)
            {
                MemoryRegion r = Map[i];
                if (InDirectMap(r) && r.Base + r.Length > HighestAddress) HighestAddress = r.Base + r.Length;
                if (r.Type != MemoryRegionType.Available) continue;
                // Only whole pages are memory.
                ulong start = Bootmem.RoundUp(r.Base, Page), end = (r.Base + r.Length) & ~(Page - 1);
                if (end <= start) continue;
                error = Bootmem.AddMemory(start, end - start);
                if (error != null) Log.Warn($"bootmem: warning: region {r.Base:x}+{r.Length:x}: {error}; ignored");
            }

            KernelLayout layout = KernelLayout.Current;
            Reserve(KernelLoadAddress, layout.End - AddressSpace.KernelImageBase - KernelLoadAddress, "kernel image");
            Reserve(info.Physical, info.TotalSize, "boot information");
            for (int i = 0; i < info.ModuleCount; i++)
                Reserve(info.Modules[i].Start, info.Modules[i].End - info.Modules[i].Start, "boot module");
            ReserveSymbolSections(info.ElfSections);
            // The AP trampoline must sit below 1 MiB; take its page before the rest of low memory is fenced off.
            TrampolinePage = Bootmem.Alloc(Page, Page, LowMemoryEnd, "AP trampoline");
            if (TrampolinePage == 0) Log.Warn("bootmem: warning: no free page below 1 MiB; secondary CPUs cannot start");
            Reserve(0, LowMemoryEnd, "low memory (BIOS)");

            ulong free = FreeBytes();
            if (free < MinimumFreeMemory)
                Panic.Fail($"not enough memory: need {MinimumFreeMemory / 1024} KiB, have {free / 1024} KiB");
            Log.Info($"bootmem: {Bootmem.TotalMemory() / 1024} KiB usable in {Bootmem.MemoryCount} ranges, {Bootmem.ReservedMemory() / 1024} KiB reserved, boot information at 0x{info.Physical:x}, trampoline at 0x{TrampolinePage:x}");
        }

        // The boot loader copies the kernel's non-allocated sections (.symtab, .strtab) into
        // free memory for panic call traces; they stay.
        static void ReserveSymbolSections(ElfSectionsInfo sections)
        {
            const ulong SectionAllocated = 2;                  // SHF_ALLOC: part of the loaded image
            const int AddressOffset = 16, SizeOffset = 32, FlagsOffset = 8, HeaderSize = 64;
            if (!sections.Present || sections.EntrySize < HeaderSize) return;
            for (uint i = 0; i < sections.Count; i++)
            {
                byte* sh = sections.Headers + (ulong)i * sections.EntrySize;
                ulong address = *(ulong*)(sh + AddressOffset), size = *(ulong*)(sh + SizeOffset);
                if (address != 0 && (*(ulong*)(sh + FlagsOffset) & SectionAllocated) == 0)
                    Reserve(address, size, "kernel symbols");
            }
        }

        // The direct map covers everything below 4 GiB that the map names (RAM, ACPI, and the
        // firmware's reserved ranges that hold tables) and, above 4 GiB, RAM and ACPI only:
        // large firmware holes up there are not memory.
        public const ulong LowFourGiB = 4ul << 30;
        public static bool InDirectMap(MemoryRegion r) => r.Base < LowFourGiB || r.Type == MemoryRegionType.Available
            || r.Type == MemoryRegionType.AcpiReclaimable || r.Type == MemoryRegionType.AcpiNvs;

        public static void Reserve(ulong start, ulong size, string owner)
        {
            if (size == 0) return;
            string error = Bootmem.Reserve(start, size, owner);
            if (error != null) Log.Warn($"bootmem: warning: cannot reserve {owner} at {start:x}+{size:x}: {error}");
        }

        public static ulong FreeBytes() => Bootmem.TotalMemory() - Bootmem.ReservedMemory();

        // Zeroed memory from bootmem (page tables, per-CPU units built at boot), reachable
        // through the boot-time direct map; panics when memory is exhausted.
        public static ulong AllocateBootPage(string owner) => AllocateBoot(Page, owner);

        public static ulong AllocateBoot(ulong bytes, string owner)
        {
            ulong start = Bootmem.Alloc(bytes, Page, DirectMap.Limit, owner);
            if (start == 0) Panic.Fail($"not enough memory: need {bytes / 1024} KiB for {owner}, have {FreeBytes() / 1024} KiB");
            Memory.Fill(DirectMap.ToVirtual(start), 0, (nuint)Bootmem.RoundUp(bytes, Page));
            return start;
        }

        // Ends boot allocation: the page allocator takes every free page and bootmem retires.
        public static void StartPageAllocator()
        {
            ulong firstPfn = ulong.MaxValue, endPfn = 0;
            for (int i = 0; i < Bootmem.MemoryCount; i++)
            {
                PhysicalRange m = Bootmem.MemoryAt(i);
                if (m.Base / Page < firstPfn) firstPfn = m.Base / Page;
                if (m.End / Page > endPfn) endPfn = m.End / Page;
            }
            ulong count = endPfn - firstPfn;
            ulong metadataBytes = Bootmem.RoundUp(PageAllocator.MetadataBytes(firstPfn, count), Page);
            ulong metadata = Bootmem.Alloc(metadataBytes, Page, DirectMap.Limit, "page metadata");
            if (metadata == 0)
                Panic.Fail($"not enough memory: need {metadataBytes / 1024} KiB for page metadata, have {FreeBytes() / 1024} KiB");
            Memory.Fill(DirectMap.ToVirtual(metadata), 0, (nuint)metadataBytes);
            Pages = new PageAllocator(firstPfn, count, DirectMap.ToVirtual(metadata));

            int cursor = 0;
            ulong address = 0;
            while (Bootmem.NextFreeRange(ref cursor, ref address, out ulong start, out ulong end))
                Pages.AddFreeRange(start / Page, end / Page);
            ulong reservedPages = Bootmem.ReservedMemory() / Page;
            Bootmem.Retire();
            Log.Info($"bootmem: released {Pages.FreePages} pages to the page allocator, {reservedPages} pages reserved");
        }

        // A block of 2^order pages from the page allocator, optionally zeroed; 0 when none.
        public static ulong AllocatePages(int order, bool zero)
        {
            ulong pfn = Pages.Alloc(order);
            if (pfn == PageAllocator.NoPage) return 0;
            ulong phys = pfn * Page;
            if (zero) Memory.Fill(DirectMap.ToVirtual(phys), 0, (nuint)(Page << order));
            return phys;
        }

        public static bool FreePages(ulong phys, int order) => Pages.Free(phys / Page, order);
    }
}
