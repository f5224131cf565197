// The kernel's own page tables, built at boot from bootmem (seed 002: page tables for
// per-CPU memory must exist before any other allocator does).
//
// One PML4 per possible CPU. Every kernel-half slot except the local window points at
// a PDPT created here, shared by all CPUs, so later mappings (vmap, per-CPU units,
// modules) appear everywhere without touching any PML4 again. The local-window slot is
// private: CPU c's PML4 points it at CPU c's own PDPT, which the per-CPU subsystem
// fills with CPU c's unit.
//
// The kernel image is mapped with 4 KiB pages and W^X: text read+execute, rodata
// read-only, data and bss read+write, never executable; the page below the boot
// stack is left unmapped as its guard.
using Percy.Kernel.Arch;

namespace Percy.Kernel.Mm
{
    internal static unsafe class KernelPageTables
    {
        const ulong Page = AddressSpace.PageSize;

        public static PageTable Kernel;                        // through the BSP's PML4
        public static ulong[] CpuRoots;                        // physical PML4 per possible CPU
        public static ulong[] LocalWindowTables;               // physical PDPT per possible CPU
        public static ulong SharedTablePages;                  // kernel-half tables all CPUs share
        public static int PossibleCpus;

        static ulong AllocateBootTable() => PhysicalMemory.AllocateBootPage("page tables");
        static ulong AllocateTable() => PhysicalMemory.AllocatePages(0, true);

        public static void Build(int possibleCpus, Multiboot.FramebufferInfo framebuffer)
        {
            PossibleCpus = possibleCpus;
            Kernel.PhysToVirt = DirectMap.Offset;
            Kernel.AllocateTable = &AllocateBootTable;
            Kernel.Root = AllocateBootTable();
            bool noExecute = Cpu.NoExecuteEnabled();
            if (!noExecute)
            {
                Kernel.UnsupportedFlags = PageFlags.NoExecute;
                Log.Warn("paging: warning: the CPU offers no NX (execute disable off in the firmware?); data pages stay executable");
            }

            // Shared kernel-half PDPTs, created now so no PML4 entry is ever added later.
            ulong directMapEnd = Bootmem.RoundUp(PhysicalMemory.HighestAddress, AddressSpace.HugePageSize);
            if (directMapEnd > AddressSpace.DirectMapSize) directMapEnd = AddressSpace.DirectMapSize;
            int directSlots = (int)((directMapEnd + AddressSpace.SlotSize - 1) / AddressSpace.SlotSize);
            for (int s = 0; s < directSlots; s++) Shared(AddressSpace.DirectMapFirstSlot + s);
            Shared(AddressSpace.VmapSlot);
            for (int s = 0; s < AddressSpace.PerCpuSlots; s++) Shared(AddressSpace.PerCpuFirstSlot + s);
            Shared(AddressSpace.KernelImageSlot);

            bool huge = Cpu.HasHugePages();
            MapPhysicalMemory(directMapEnd, framebuffer, huge);
            MapKernelImage();
            SharedTablePages = Kernel.TablesAllocated;

            CpuRoots = new ulong[possibleCpus];
            LocalWindowTables = new ulong[possibleCpus];
            CpuRoots[0] = Kernel.Root;
            ulong* bsp = Kernel.Entry(Kernel.Root, 0);
            for (int cpu = 0; cpu < possibleCpus; cpu++)
            {
                if (cpu > 0)
                {
                    CpuRoots[cpu] = AllocateBootTable();
                    ulong* root = Kernel.Entry(CpuRoots[cpu], 0);
                    for (int s = AddressSpace.KernelHalfFirstSlot; s < PageTable.Entries; s++) root[s] = bsp[s];
                }
                LocalWindowTables[cpu] = AllocateBootTable();
                *Kernel.Entry(CpuRoots[cpu], AddressSpace.LocalWindowSlot) = LocalWindowTables[cpu] | PageFlags.Table;
            }

            Cpu.WriteCr3(Kernel.Root);
            DirectMap.Extend(directMapEnd);
            Log.Info($"paging: {possibleCpus} PML4s, {SharedTablePages} shared kernel table pages, {PrivateTablePages(0)} private pages per CPU, direct map {directMapEnd >> 20} MiB{(huge ? " (1 GiB pages)" : "")}");
        }

        // After bootmem retires, further tables come from the page allocator.
        public static void UsePageAllocator() => Kernel.AllocateTable = &AllocateTable;

        // Page-table pages private to one CPU: its PML4 and its local-window tables.
        public static ulong PrivateTablePages(int cpu) => 2 + CountTables(LocalWindowTables[cpu], 2);

        static ulong CountTables(ulong table, int level)
        {
            if (level == 0) return 0;
            ulong n = 0;
            for (int i = 0; i < PageTable.Entries; i++)
            {
                ulong e = *Kernel.Entry(table, i);
                if ((e & PageFlags.Present) == 0 || (e & PageFlags.Large) != 0) continue;
                n += 1 + CountTables(e & PageFlags.AddressMask, level - 1);
            }
            return n;
        }

        static void Shared(int slot)
        {
            if (Kernel.EnsureSlot(slot) == PageTable.NoTable) Panic.Fail("not enough memory for the kernel page tables");
        }

        // Every region of the firmware map (RAM, ACPI, reserved) and the framebuffer.
        static void MapPhysicalMemory(ulong limit, Multiboot.FramebufferInfo fb, bool huge)
        {
            ulong mappedEnd = 0;
            for (int i = 0; i < PhysicalMemory.MapCount; i++)
            {
                if (!PhysicalMemory.InDirectMap(PhysicalMemory.Map[i])) continue;
                ulong start = PhysicalMemory.Map[i].Base & ~(Page - 1);
                ulong end = Bootmem.RoundUp(PhysicalMemory.Map[i].Base + PhysicalMemory.Map[i].Length, Page);
                if (start < mappedEnd) start = mappedEnd;       // neighbours may share a page
                if (end > limit) end = limit;
                if (end <= start) continue;
                MapDirect(start, end, huge);
                mappedEnd = end;
            }
            // Screens live outside the map: write-through, so pixels reach the screen.
            if (fb.Present && fb.Type != Multiboot.FramebufferType.EgaText)
                MapMissing(fb.Address, fb.Address + (ulong)fb.Pitch * fb.Height, PageFlags.KernelReadWrite | PageFlags.WriteThrough);
            MapMissing(LegacyVideoStart, LegacyVideoEnd, PageFlags.KernelReadWrite | PageFlags.WriteThrough);
        }

        const ulong LegacyVideoStart = 0xA0000, LegacyVideoEnd = 0xC0000;   // VGA memory, incl. text at 0xB8000

        static void MapMissing(ulong start, ulong end, ulong flags)
        {
            for (ulong p = start & ~(Page - 1); p < Bootmem.RoundUp(end, Page); p += Page)
            {
                if (Kernel.Translate(DirectMap.Offset + p, out _, out _)) continue;
                string error = Kernel.Map(DirectMap.Offset + p, p, Page, Page, flags);
                if (error != null) Panic.Fail($"paging: {p:x}: {error}");
            }
        }

        static void MapDirect(ulong start, ulong end, bool huge)
        {
            string error = Kernel.MapLargest(DirectMap.Offset + start, start, end - start, PageFlags.KernelReadWrite, huge);
            if (error != null) Panic.Fail($"paging: direct map of {start:x}-{end:x}: {error}");
        }

        static void MapKernelImage()
        {
            KernelLayout k = KernelLayout.Current;
            MapImage(k.TextStart & ~(Page - 1), k.RodataStart, PageFlags.KernelExecute, 0);
            MapImage(k.RodataStart, k.DataStart, PageFlags.KernelRead, 0);
            MapImage(k.DataStart, k.End, PageFlags.KernelReadWrite, k.BootStackGuard);
        }

        static void MapImage(ulong start, ulong end, ulong flags, ulong skip)
        {
            end = Bootmem.RoundUp(end, Page);
            for (ulong v = start; v < end; v += Page)
            {
                if (v == skip) continue;
                string error = Kernel.Map(v, v - AddressSpace.KernelImageBase, Page, Page, flags);
                if (error != null) Panic.Fail($"paging: kernel image at {v:x}: {error}");
            }
        }
    }
}
