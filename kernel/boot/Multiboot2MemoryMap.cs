// The memory-map normaliser: turns the firmware's map (unsorted, overlapping, with
// zero-length and absurd entries, as real firmware produces) into a sorted list of
// disjoint regions, merging neighbours of the same type.
//
// Where entries overlap, the more restrictive type wins: available < ACPI reclaimable
// < reserved (and unknown types) < ACPI NVS < bad memory. So a byte is usable only if
// every entry that covers it says available. Entries whose end overflows 64 bits or
// lies beyond the 52-bit physical address limit of x86-64 are dropped with a warning.
//
// Method: a sweep over the sorted set of entry boundaries. Between two neighbouring
// boundaries every entry either covers the whole piece or none of it, so the piece's
// type is the strongest type among the entries covering it. O(n²) for n entries,
// n ≤ 256 at boot. No allocation: the caller passes the output and scratch arrays.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Multiboot
{
    public static class MemoryMapNormalizer
    {
        public const ulong MaxPhysicalAddress = 1ul << 52;

        // input[0..count) is left untouched. output receives the normalised regions
        // (2 * count - 1 is always enough; if it is smaller, the regions past its end are
        // dropped with a warning). scratch must hold at least 2 * count values.
        // Returns the number of output regions, or -1 with a reason if the arguments are
        // unusable. warnings (may be null) receive one entry per dropped input entry,
        // Code = the entry's index.
        public static int Normalize(MemoryRegion[] input, int count, MemoryRegion[] output, ulong[] scratch,
                                    ProblemList warnings, out ulong usableBytes, out string error)
        {
            usableBytes = 0;
            error = null;
            if (input == null || output == null || scratch == null) { error = "a memory map array is missing"; return -1; }
            if (count < 0 || count > input.Length) { error = "memory map count is out of range"; return -1; }
            if ((long)scratch.Length < 2L * count) { error = "memory map scratch array is too small"; return -1; }

            // 1. Boundaries of the valid entries.
            int points = 0;
            for (int i = 0; i < count; i++)
            {
                if (!IsValid(input[i], i, warnings)) continue;
                scratch[points++] = input[i].Base;
                scratch[points++] = input[i].Base + input[i].Length;
            }
            Sort(scratch, points);
            int unique = 0;
            for (int i = 0; i < points; i++)
                if (unique == 0 || scratch[unique - 1] != scratch[i]) scratch[unique++] = scratch[i];

            // 2. Sweep the pieces between neighbouring boundaries.
            int produced = 0;
            bool overflowed = false;
            for (int p = 0; p + 1 < unique; p++)
            {
                ulong start = scratch[p], end = scratch[p + 1];
                int best = -1;
                uint bestType = 0;
                for (int i = 0; i < count; i++)
                {
                    MemoryRegion e = input[i];
                    if (e.Length == 0 || !InRange(e)) continue;
                    if (e.Base > start || e.Base + e.Length < end) continue;
                    uint t = Canonical(e.Type);
                    int rank = Rank(t);
                    if (rank > best) { best = rank; bestType = t; }
                }
                if (best < 0) continue;                               // a hole in the map
                if (produced > 0 && output[produced - 1].Type == bestType
                    && output[produced - 1].Base + output[produced - 1].Length == start)
                {
                    output[produced - 1].Length += end - start;
                    continue;
                }
                if (produced == output.Length)
                {
                    if (!overflowed && warnings != null)
                        warnings.Add((uint)count, "normalised memory map does not fit its output; the rest is dropped");
                    overflowed = true;
                    break;
                }
                output[produced].Base = start;
                output[produced].Length = end - start;
                output[produced].Type = bestType;
                produced++;
            }

            for (int i = 0; i < produced; i++)
                if (output[i].Type == MemoryRegionType.Available) usableBytes += output[i].Length;
            return produced;
        }

        static bool InRange(MemoryRegion e)
            => e.Base < MaxPhysicalAddress && e.Length <= MaxPhysicalAddress - e.Base;

        static bool IsValid(MemoryRegion e, int index, ProblemList warnings)
        {
            if (e.Length == 0) return false;                          // dropped silently
            if (e.Length > ulong.MaxValue - e.Base)
            {
                if (warnings != null) warnings.Add((uint)index, "memory map entry base + length overflows 64 bits");
                return false;
            }
            if (!InRange(e))
            {
                if (warnings != null) warnings.Add((uint)index, "memory map entry lies beyond the 52-bit physical address limit");
                return false;
            }
            return true;
        }

        // Types the kernel does not know are reserved.
        public static uint Canonical(uint type)
        {
            if (type == MemoryRegionType.Available || type == MemoryRegionType.AcpiReclaimable
                || type == MemoryRegionType.AcpiNvs || type == MemoryRegionType.BadMemory) return type;
            return MemoryRegionType.Reserved;
        }

        // Higher wins where entries overlap.
        static int Rank(uint canonicalType)
        {
            switch (canonicalType)
            {
                case MemoryRegionType.Available: return 0;
                case MemoryRegionType.AcpiReclaimable: return 1;
                case MemoryRegionType.Reserved: return 2;
                case MemoryRegionType.AcpiNvs: return 3;
                default: return 4;                                    // bad memory
            }
        }

        // Heapsort: O(n log n), in place, no recursion.
        static void Sort(ulong[] a, int n)
        {
            for (int i = n / 2 - 1; i >= 0; i--) SiftDown(a, i, n);
            for (int end = n - 1; end > 0; end--)
            {
                ulong t = a[0]; a[0] = a[end]; a[end] = t;
                SiftDown(a, 0, end);
            }
        }

        static void SiftDown(ulong[] a, int root, int n)
        {
            while (true)
            {
                int child = 2 * root + 1;
                if (child >= n) return;
                if (child + 1 < n && a[child + 1] > a[child]) child++;
                if (a[root] >= a[child]) return;
                ulong t = a[root]; a[root] = a[child]; a[child] = t;
                root = child;
            }
        }
    }
}
