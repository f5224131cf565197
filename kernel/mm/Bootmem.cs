// bootmem: the boot-time physical memory allocator, in the style of Linux's memblock.
//
// It keeps two sorted lists of physical ranges: `memory`, what the firmware's map says
// is usable RAM, and `reserved`, what is taken (the kernel image, the boot information,
// boot modules, ACPI tables, page tables built at boot, per-CPU units...). Free memory
// is memory minus reserved. Allocation is top-down below a caller's limit, as
// memblock's is, so low memory (which trampolines and DMA want) lasts longest.
//
// bootmem exists before any other allocator: the per-CPU page tables of seed 002 are
// built from it. Once boot allocation is over, every free page is handed to the page
// allocator (see PageAllocator) and bootmem retires.
//
// Pure logic: no hardware access, so the host tests run it against reference models.
namespace Percy.Kernel.Mm
{
    public struct PhysicalRange
    {
        public ulong Base;
        public ulong Size;
        public string Owner;                        // who reserved it, for `mem` (null for RAM)
        public ulong End => Base + Size;
    }

    public sealed class Bootmem
    {
        public const int MaxRanges = 128;
        public const ulong PageSize = 4096;
        // Physical addresses above this are absurd for x86-64 (52-bit physical address limit).
        public const ulong MaxPhysicalAddress = 1ul << 52;

        readonly PhysicalRange[] _memory = new PhysicalRange[MaxRanges];
        readonly PhysicalRange[] _reserved = new PhysicalRange[MaxRanges];
        int _memoryCount, _reservedCount;
        bool _retired;

        public int MemoryCount => _memoryCount;
        public int ReservedCount => _reservedCount;
        public PhysicalRange MemoryAt(int i) => _memory[i];
        public PhysicalRange ReservedAt(int i) => _reserved[i];
        public bool Retired => _retired;

        // Adds usable RAM. Overlapping or adjacent ranges are merged. Returns a reason on failure.
        public string AddMemory(ulong start, ulong size)
        {
            if (size == 0) return "zero-length range";
            if (start >= MaxPhysicalAddress || size > MaxPhysicalAddress - start) return "range beyond the physical address limit";
            return Insert(_memory, ref _memoryCount, start, size, null, true);
        }

        // Marks [start, start+size) as taken. Only the parts not reserved already are
        // added, so reservations never overlap and byte counts stay exact.
        public string Reserve(ulong start, ulong size, string owner)
        {
            if (_retired) return "bootmem is retired";
            if (size == 0) return "zero-length range";
            if (start >= MaxPhysicalAddress || size > MaxPhysicalAddress - start) return "range beyond the physical address limit";
            ulong end = start + size;
            while (start < end)
            {
                ulong pieceEnd = end;
                bool covered = false;
                for (int r = 0; r < _reservedCount; r++)
                {
                    if (_reserved[r].Base <= start && _reserved[r].End > start)
                    {
                        start = Min(_reserved[r].End, end);
                        covered = true;
                        break;
                    }
                    if (_reserved[r].Base > start && _reserved[r].Base < pieceEnd) pieceEnd = _reserved[r].Base;
                }
                if (covered) continue;
                string error = Insert(_reserved, ref _reservedCount, start, pieceEnd - start, owner, false);
                if (error != null) return error;
                start = pieceEnd;
            }
            return null;
        }

        // Returns 0 when nothing fits. The range returned is reserved for `owner`.
        public ulong Alloc(ulong size, ulong align, ulong maxAddress, string owner)
        {
            if (_retired || size == 0 || size >= MaxPhysicalAddress || align == 0 || (align & (align - 1)) != 0) return 0;
            size = RoundUp(size, PageSize);
            if (align < PageSize) align = PageSize;
            for (int m = _memoryCount - 1; m >= 0; m--)
            {
                ulong top = Min(_memory[m].End, maxAddress);
                while (top >= size)
                {
                    ulong candidate = (top - size) & ~(align - 1);
                    if (candidate < _memory[m].Base) break;
                    // Below the lowest reservation that overlaps the candidate lies the next try.
                    ulong conflict = ulong.MaxValue;
                    for (int r = 0; r < _reservedCount; r++)
                        if (_reserved[r].Base < candidate + size && _reserved[r].End > candidate)
                            conflict = Min(conflict, _reserved[r].Base);
                    if (conflict == ulong.MaxValue)
                        return Reserve(candidate, size, owner) == null ? candidate : 0;
                    top = conflict;
                }
            }
            return 0;
        }

        // Returns a range to the free pool by cutting it out of the reservations.
        public string Free(ulong start, ulong size)
        {
            if (_retired) return "bootmem is retired";
            if (size == 0) return "zero-length range";
            ulong end = start + size;
            if (end < start) return "range wraps around";
            for (int r = 0; r < _reservedCount; r++)
            {
                PhysicalRange res = _reserved[r];
                if (res.End <= start || res.Base >= end) continue;
                bool keepLow = res.Base < start, keepHigh = res.End > end;
                if (keepLow && keepHigh)
                {
                    if (_reservedCount == MaxRanges) return "too many reserved ranges";
                    _reserved[r].Size = start - res.Base;
                    Insert(_reserved, ref _reservedCount, end, res.End - end, res.Owner, false);
                    return null;
                }
                if (keepLow) _reserved[r].Size = start - res.Base;
                else if (keepHigh)
                {
                    _reserved[r].Base = end;
                    _reserved[r].Size = res.End - end;
                }
                else
                {
                    RemoveAt(_reserved, ref _reservedCount, r);
                    r--;
                }
            }
            return null;
        }

        public ulong TotalMemory()
        {
            ulong total = 0;
            for (int i = 0; i < _memoryCount; i++) total += _memory[i].Size;
            return total;
        }

        // Bytes of RAM that are reserved (reservations outside RAM do not count).
        public ulong ReservedMemory()
        {
            ulong total = 0;
            for (int r = 0; r < _reservedCount; r++)
                for (int m = 0; m < _memoryCount; m++)
                {
                    ulong lo = Max(_reserved[r].Base, _memory[m].Base), hi = Min(_reserved[r].End, _memory[m].End);
                    if (hi > lo) total += hi - lo;
                }
            return total;
        }

        // The i-th free range, page-aligned inward (partial pages are never handed out).
        // Iterate with cursor = 0 until it returns false.
        public bool NextFreeRange(ref int cursorMemory, ref ulong cursorAddress, out ulong start, out ulong end)
        {
            while (cursorMemory < _memoryCount)
            {
                PhysicalRange m = _memory[cursorMemory];
                ulong lo = Max(cursorAddress, m.Base);
                // Skip reservations covering lo.
                bool moved = true;
                while (moved)
                {
                    moved = false;
                    for (int r = 0; r < _reservedCount; r++)
                        if (_reserved[r].Base <= lo && _reserved[r].End > lo)
                        {
                            lo = _reserved[r].End;
                            moved = true;
                        }
                }
                if (lo >= m.End)
                {
                    cursorMemory++;
                    cursorAddress = 0;
                    continue;
                }
                ulong hi = m.End;
                for (int r = 0; r < _reservedCount; r++)
                    if (_reserved[r].Base > lo && _reserved[r].Base < hi) hi = _reserved[r].Base;
                cursorAddress = hi;
                start = RoundUp(lo, PageSize);
                end = hi & ~(PageSize - 1);
                if (end > start) return true;
            }
            start = end = 0;
            return false;
        }

        // After the page allocator has taken the free pages, bootmem refuses further use.
        public void Retire() => _retired = true;

        static string Insert(PhysicalRange[] list, ref int count, ulong start, ulong size, string owner, bool merge)
        {
            ulong end = start + size;
            int at = 0;
            while (at < count && list[at].Base < start) at++;
            if (merge)
            {
                // Absorb every neighbour that overlaps or touches [start, end).
                int first = at > 0 && list[at - 1].End >= start ? at - 1 : at;
                int last = at;
                while (last < count && list[last].Base <= end) last++;
                if (last > first)
                {
                    ulong lo = Min(start, list[first].Base), hi = Max(end, list[last - 1].End);
                    list[first].Base = lo;
                    list[first].Size = hi - lo;
                    for (int k = first + 1; k < last; k++) RemoveAt(list, ref count, first + 1);
                    return null;
                }
            }
            else
            {
                // A reservation that touches a neighbour with the same owner extends it, so
                // page-by-page boot allocations (page tables) take one entry, not hundreds.
                if (at > 0 && list[at - 1].End == start && list[at - 1].Owner == owner)
                {
                    list[at - 1].Size += size;
                    if (at < count && list[at].Base == end && list[at].Owner == owner)
                    {
                        list[at - 1].Size += list[at].Size;
                        RemoveAt(list, ref count, at);
                    }
                    return null;
                }
                if (at < count && list[at].Base == end && list[at].Owner == owner)
                {
                    list[at].Base = start;
                    list[at].Size += size;
                    return null;
                }
            }
            if (count == MaxRanges) return "too many ranges";
            for (int k = count; k > at; k--) list[k] = list[k - 1];
            list[at].Base = start;
            list[at].Size = size;
            list[at].Owner = owner;
            count++;
            return null;
        }

        static void RemoveAt(PhysicalRange[] list, ref int count, int index)
        {
            for (int k = index; k < count - 1; k++) list[k] = list[k + 1];
            count--;
        }

        public static ulong RoundUp(ulong value, ulong align) => (value + align - 1) & ~(align - 1);
        static ulong Min(ulong a, ulong b) => a < b ? a : b;
        static ulong Max(ulong a, ulong b) => a > b ? a : b;
    }
}
