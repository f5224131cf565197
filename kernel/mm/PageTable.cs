// x86-64 four-level page tables: map and unmap ranges with 4 KiB, 2 MiB or 1 GiB pages.
//
// The tables are physical pages reached through a window (pointer = physical +
// physToVirt), and new table pages come from a caller-supplied allocator, so the same
// code builds the boot-time tables from bootmem, later ones from the page allocator,
// and, in the host tests, real tables inside a buffer that stands for physical memory.
// Pure logic: no CR3 loads or TLB flushes here (the caller does those).
namespace Percy.Kernel.Mm
{
    public static class PageFlags
    {
        public const ulong Present = 1ul << 0;
        public const ulong Writable = 1ul << 1;
        public const ulong User = 1ul << 2;
        public const ulong WriteThrough = 1ul << 3;
        public const ulong CacheDisable = 1ul << 4;
        public const ulong Accessed = 1ul << 5;
        public const ulong Dirty = 1ul << 6;
        public const ulong Large = 1ul << 7;                    // PS: a 2 MiB or 1 GiB leaf
        public const ulong Global = 1ul << 8;
        public const ulong NoExecute = 1ul << 63;
        public const ulong AddressMask = 0x000FFFFFFFFFF000;

        // The protections kernel mappings use.
        public const ulong KernelRead = Present | NoExecute;
        public const ulong KernelReadWrite = Present | Writable | NoExecute;
        public const ulong KernelExecute = Present;
        public const ulong Uncached = CacheDisable | WriteThrough;
        // What intermediate tables carry: leaves decide the real protection.
        public const ulong Table = Present | Writable;
    }

    public unsafe struct PageTable
    {
        public const int Entries = 512;
        public const ulong NoTable = 0;

        public ulong Root;                                      // physical address of the PML4
        public ulong PhysToVirt;
        public delegate*<ulong> AllocateTable;                  // a zeroed page, physical address; 0 when out of memory
        public ulong TablesAllocated;
        // Leaf flags this CPU cannot take, cleared from every leaf written: NoExecute when
        // EFER.NXE is off (no NX, or the firmware's "execute disable" option turned it
        // off), where bit 63 would be a reserved bit and every access through it a fault.
        public ulong UnsupportedFlags;

        public ulong* Entry(ulong table, int index) => (ulong*)(table + PhysToVirt) + index;

        public static int Index(ulong virt, int level) => (int)(virt >> (12 + 9 * level) & 511);

        // Maps [virt, virt+size) to [phys, phys+size). pageSize is 4 KiB, 2 MiB or 1 GiB;
        // addresses and size must be multiples of it. An existing mapping is an error
        // (nothing is overwritten); so is running out of table pages. On error, whatever
        // was mapped before the failing page stays mapped: callers unmap on failure.
        public string Map(ulong virt, ulong phys, ulong size, ulong pageSize, ulong flags)
        {
            int leafLevel = pageSize == AddressSpace.PageSize ? 0 : pageSize == AddressSpace.LargePageSize ? 1
                          : pageSize == AddressSpace.HugePageSize ? 2 : -1;
            if (leafLevel < 0) return "unsupported page size";
            if (((virt | phys | size) & (pageSize - 1)) != 0) return "address or size not aligned to the page size";
            if (size == 0) return "empty range";
            for (ulong off = 0; off < size; off += pageSize)
            {
                ulong table = Root;
                for (int level = 3; level > leafLevel; level--)
                {
                    ulong* e = Entry(table, Index(virt + off, level));
                    if ((*e & PageFlags.Present) == 0)
                    {
                        ulong page = AllocateTable();
                        if (page == NoTable) return "out of memory for page tables";
                        TablesAllocated++;
                        *e = page | PageFlags.Table;
                    }
                    else if ((*e & PageFlags.Large) != 0) return "range overlaps a large page";
                    table = *e & PageFlags.AddressMask;
                }
                ulong* leaf = Entry(table, Index(virt + off, leafLevel));
                if ((*leaf & PageFlags.Present) != 0) return "range is already mapped";
                *leaf = (phys + off) | (flags & ~UnsupportedFlags) | PageFlags.Present | (leafLevel > 0 ? PageFlags.Large : 0);
            }
            return null;
        }

        // Maps a range with the largest pages its alignment allows (1 GiB only if the CPU
        // has them), so the direct map of a big machine costs few table pages.
        public string MapLargest(ulong virt, ulong phys, ulong size, ulong flags, bool hugePages)
        {
            if (((virt | phys | size) & (AddressSpace.PageSize - 1)) != 0) return "address or size not page-aligned";
            while (size > 0)
            {
                ulong page = AddressSpace.PageSize;
                if (hugePages && Fits(virt, phys, size, AddressSpace.HugePageSize)) page = AddressSpace.HugePageSize;
                else if (Fits(virt, phys, size, AddressSpace.LargePageSize)) page = AddressSpace.LargePageSize;
                string error = Map(virt, phys, page, page, flags);
                if (error != null) return error;
                virt += page;
                phys += page;
                size -= page;
            }
            return null;
        }

        static bool Fits(ulong virt, ulong phys, ulong size, ulong page) => ((virt | phys) & (page - 1)) == 0 && size >= page;

        // Removes 4 KiB mappings; returns how many pages were mapped. Intermediate tables
        // stay (kernel tables are shared and never freed).
        public ulong Unmap(ulong virt, ulong size)
        {
            ulong removed = 0;
            for (ulong off = 0; off < size; off += AddressSpace.PageSize)
            {
                ulong* e = Walk(virt + off, out int level);
                if (e == null || level != 0) continue;
                *e = 0;
                removed++;
            }
            return removed;
        }

        // Gives the 4 KiB pages mapped in [virt, virt+size) new protection flags (the
        // loader maps a module writable to fill it, then makes its text read-only and
        // executable); returns how many pages changed. The caller flushes the TLB.
        public ulong Protect(ulong virt, ulong size, ulong flags)
        {
            ulong changed = 0;
            for (ulong off = 0; off < size; off += AddressSpace.PageSize)
            {
                ulong* e = Walk(virt + off, out int level);
                if (e == null || level != 0) continue;
                *e = (*e & PageFlags.AddressMask) | (flags & ~UnsupportedFlags) | PageFlags.Present;
                changed++;
            }
            return changed;
        }

        // The leaf entry mapping virt and its level (0: 4 KiB, 1: 2 MiB, 2: 1 GiB), or null.
        public ulong* Walk(ulong virt, out int level)
        {
            ulong table = Root;
            for (level = 3; level >= 0; level--)
            {
                ulong* e = Entry(table, Index(virt, level));
                if ((*e & PageFlags.Present) == 0) return null;
                if (level == 0 || (*e & PageFlags.Large) != 0) return level == 3 ? null : e;
                table = *e & PageFlags.AddressMask;
            }
            return null;
        }

        // Physical address that virt maps to, with the leaf's flags; false if unmapped.
        public bool Translate(ulong virt, out ulong phys, out ulong flags)
        {
            ulong* e = Walk(virt, out int level);
            phys = flags = 0;
            if (e == null) return false;
            ulong pageMask = (1ul << (12 + 9 * level)) - 1;
            phys = (*e & PageFlags.AddressMask & ~pageMask) | (virt & pageMask);
            flags = *e & ~PageFlags.AddressMask;
            return true;
        }

        // Makes sure the PML4 entry for a slot points at a table (used to preallocate the
        // shared kernel-half PDPTs). Returns the table's physical address or NoTable.
        public ulong EnsureSlot(int slot)
        {
            ulong* e = Entry(Root, slot);
            if ((*e & PageFlags.Present) != 0) return *e & PageFlags.AddressMask;
            ulong page = AllocateTable();
            if (page == NoTable) return NoTable;
            TablesAllocated++;
            *e = page | PageFlags.Table;
            return page;
        }
    }
}
