// KTAP suite `percpu_alloc`: the dynamic allocator on the running machine — areas zeroed
// on every CPU, written by every CPU through its local window and read back through
// per_cpu_ptr, a second chunk when the first is full, pages returned when areas are
// freed, bad requests that change nothing, pages populated again (their frames perhaps
// still waiting for a TLB shootdown, UnitPages) zeroed, and every frame of an unmapped
// page back in the page allocator after the shootdown. After every case the allocator's idea of
// its populated pages must equal what the page tables of every unit really map.
using Percy.Kernel.Mm;
using Percy.Kernel.SelfTest;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class DynamicPerCpuTests
    {
        const ulong Page = AddressSpace.PageSize;
        const ulong Pattern = 0x5045524300000000;          // "PERC" in the high half, the CPU below
        const ulong BigArea = 256 * 1024;                 // four of these do not fit in one 1 MiB unit

        public static void Register()
        {
            SelfTests.Register("percpu_alloc", "zeroed_written_by_all_read_back", &WrittenByAll);
            SelfTests.Register("percpu_alloc", "full_chunk_makes_a_second", &SecondChunk);
            SelfTests.Register("percpu_alloc", "free_returns_pages_to_the_reserve", &FreeReturnsPages);
            SelfTests.Register("percpu_alloc", "bad_requests_change_nothing", &BadRequests);
            SelfTests.Register("percpu_alloc", "repopulated_pages_are_zeroed", &RepopulatedPagesAreZeroed);
            SelfTests.Register("percpu_alloc", "unmapped_frames_return_to_the_page_allocator", &UnmappedFramesReturn);
        }

        struct Snapshot { public ulong Allocs, Frees, Live, LiveBytes, Chunks, Populated; }

        static Snapshot Take()
        {
            PerCpuAllocator a = DynamicPerCpu.Allocator;
            return new Snapshot { Allocs = a.Allocations, Frees = a.Frees, Live = a.Live, LiveBytes = a.LiveBytes, Chunks = a.Chunks, Populated = a.PopulatedPages };
        }

        static bool Same(Snapshot x, Snapshot y) => x.Allocs == y.Allocs && x.Frees == y.Frees && x.Live == y.Live
            && x.LiveBytes == y.LiveBytes && x.Chunks == y.Chunks && x.Populated == y.Populated;

        static void ExpectPagesMatchTables(TestContext* t)
        {
            int wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                if (DynamicPerCpu.MappedPages(cpu) != DynamicPerCpu.Allocator.PopulatedPages) wrong++;
            t->ExpectEqual((ulong)wrong, 0, "units whose mapped pages differ from the allocator's populated pages");
        }

        static void WriteOwn(void* handle)
        {
            var words = (ulong*)DynamicPerCpu.ThisCpuPtr(*(ulong*)handle);
            for (int i = 0; i < 8; i++) words[i] = Pattern | (uint)Cpus.ThisCpu;
        }

        static void WrittenByAll(TestContext* t)
        {
            const ulong Size = 64;
            t->Expect(DynamicPerCpu.Alloc(Size, Size, false, out ulong h) == null, "alloc_percpu(64, 64)");
            t->ExpectEqual(h % Size, 0, "the handle is 64-byte aligned");
            int dirty = 0, wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                for (int i = 0; i < 8; i++) if (DynamicPerCpu.Ptr(h, cpu)[i] != 0) dirty++;
            t->ExpectEqual((ulong)dirty, 0, "non-zero words before any write");
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &WriteOwn, &h, true), "the call ran on every CPU");
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
            {
                ulong expected = Cpus.Online.Has(cpu) ? Pattern | (uint)cpu : 0;
                for (int i = 0; i < 8; i++) if (DynamicPerCpu.Ptr(h, cpu)[i] != expected) wrong++;
            }
            t->ExpectEqual((ulong)wrong, 0, "words not holding their own CPU's pattern");
            t->Expect(DynamicPerCpu.Free(h) == null, "free_percpu");
            // The area is handed out zeroed again, though its bytes were written.
            t->Expect(DynamicPerCpu.Alloc(Size, Size, false, out ulong again) == null, "alloc again");
            dirty = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                for (int i = 0; i < 8; i++) if (DynamicPerCpu.Ptr(again, cpu)[i] != 0) dirty++;
            t->ExpectEqual((ulong)dirty, 0, "non-zero words in a reused area");
            t->Expect(DynamicPerCpu.Free(again) == null, "free again");
            ExpectPagesMatchTables(t);
        }

        static void SecondChunk(TestContext* t)
        {
            ulong* h = stackalloc ulong[4];
            ulong before = DynamicPerCpu.Allocator.Chunks;
            int made = 0;
            for (; made < 4; made++) if (DynamicPerCpu.Alloc(BigArea, Page, false, out h[made]) != null) break;
            t->ExpectEqual((ulong)made, 4, "four 256 KiB areas");
            // A run before this one may have left its second chunk as the spare empty chunk.
            t->Expect(DynamicPerCpu.Allocator.Chunks >= 2, "a second chunk exists");
            t->Note($"chunks {before} -> {DynamicPerCpu.Allocator.Chunks}, last area at 0x{h[made - 1]:x}");
            t->Expect(h[made - 1] >= DynamicPerCpu.Allocator.UnitVm, "the last area lies in chunk 1 or later");
            *DynamicPerCpu.Ptr(h[made - 1], 0) = Pattern;
            t->ExpectEqual(*DynamicPerCpu.Ptr(h[made - 1], 0), Pattern, "chunk 1 is writable");
            ExpectPagesMatchTables(t);
            for (int i = 0; i < made; i++) t->Expect(DynamicPerCpu.Free(h[i]) == null, "free");
            ExpectPagesMatchTables(t);
        }

        static void FreeReturnsPages(TestContext* t)
        {
            const int Count = 200;
            const ulong Size = 1000;
            Snapshot before = Take();
            ulong* h = (ulong*)Heap.Allocate(Count * sizeof(ulong));
            int made = 0;
            for (; made < Count; made++) if (DynamicPerCpu.Alloc(Size, 8, false, out h[made]) != null) break;
            t->ExpectEqual((ulong)made, Count, "200 areas of 1000 bytes");
            ulong peak = DynamicPerCpu.Allocator.PopulatedPages;
            for (int i = 0; i < made; i++) DynamicPerCpu.Free(h[i]);
            Heap.Free(h);
            Snapshot after = Take();
            t->Note($"populated pages per CPU: {before.Populated} before, {peak} at the peak, {after.Populated} after");
            t->ExpectEqual(after.Live, before.Live, "live areas");
            t->ExpectEqual(after.LiveBytes, before.LiveBytes, "live bytes");
            t->Expect(after.Populated <= FirstChunk.Layout.CommittedPages + PerCpuAllocator.EmptyPopulatedPagesHigh + LivePages(),
                      "only the static pages, live areas' pages and the reserve stay populated");
            ExpectPagesMatchTables(t);
        }

        // Pages the areas still live (from before the test) may need, at most one per area plus one.
        static ulong LivePages() => DynamicPerCpu.Allocator.Live + (DynamicPerCpu.Allocator.LiveBytes + Page - 1) / Page;

        static void BadRequests(TestContext* t)
        {
            t->Expect(DynamicPerCpu.Alloc(8, 8, false, out ulong good) == null, "a good area");
            Snapshot before = Take();
            t->Expect(DynamicPerCpu.Alloc(0, 8, false, out _) != null, "size 0 is refused");
            t->Expect(DynamicPerCpu.Alloc(DynamicPerCpu.Allocator.MaxAllocSize + 1, 8, false, out _) != null, "a size above the maximum is refused");
            t->Expect(DynamicPerCpu.Alloc(8, 3, false, out _) != null, "alignment 3 is refused");
            t->Expect(DynamicPerCpu.Alloc(8, 2 * Page, false, out _) != null, "alignment above a page is refused");
            t->Expect(DynamicPerCpu.Free(good + 4) != null, "a handle inside an area is refused");
            t->Expect(DynamicPerCpu.Free(8) != null, "a handle in the static part is refused");
            t->Expect(DynamicPerCpu.Free(good + 2) != null, "an unaligned handle is refused");
            t->Expect(DynamicPerCpu.Free(PerCpuLayout.UnitStride - 4) != null, "a handle outside every chunk is refused");
            t->Expect(Same(before, Take()), "statistics unchanged by the refused requests");
            t->Expect(DynamicPerCpu.Free(good) == null, "the good area is freed");
            Snapshot freed = Take();
            t->Expect(DynamicPerCpu.Free(good) != null, "a double free is refused");
            t->Expect(Same(freed, Take()), "statistics unchanged by the double free");
            ExpectPagesMatchTables(t);
        }

        // Whole pages, written on every CPU, freed (their pages unmapped beyond the reserve)
        // and allocated again: every byte reads zero, whether the page kept its frames
        // (reserve), got them back from the shootdown list, or got new ones.
        static void RepopulatedPagesAreZeroed(TestContext* t)
        {
            const int Count = 12;
            const ulong Words = Page / sizeof(ulong);
            ulong* h = stackalloc ulong[Count];
            int made = 0;
            for (; made < Count; made++) if (DynamicPerCpu.Alloc(Page, Page, false, out h[made]) != null) break;
            t->ExpectEqual((ulong)made, Count, "12 one-page areas");
            for (int i = 0; i < made; i++)
                for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                    for (ulong w = 0; w < Words; w++) DynamicPerCpu.Ptr(h[i], cpu)[w] = Pattern | (uint)cpu;
            for (int i = 0; i < made; i++) DynamicPerCpu.Free(h[i]);
            t->Note($"frames waiting for a TLB shootdown after the frees: {DynamicPerCpu.WaitingFrames}");
            ulong dirty = 0;
            for (int i = 0; i < made; i++)
            {
                t->Expect(DynamicPerCpu.Alloc(Page, Page, false, out h[i]) == null, "alloc again");
                for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                    for (ulong w = 0; w < Words; w++) if (DynamicPerCpu.Ptr(h[i], cpu)[w] != 0) dirty++;
            }
            t->ExpectEqual(dirty, 0, "non-zero words in the areas allocated again");
            for (int i = 0; i < made; i++) DynamicPerCpu.Free(h[i]);
            ExpectPagesMatchTables(t);
        }

        // Frames the dynamic allocator's pages account for: in the page allocator, waiting
        // for a shootdown, or mapped in a unit.
        static ulong AccountedFrames()
            => PhysicalMemory.Pages.FreePages + (ulong)DynamicPerCpu.WaitingFrames + DynamicPerCpu.Allocator.PopulatedPages * (ulong)FirstChunk.Layout.Units;

        // More one-page areas than the shootdown list holds frames for, all freed: twice.
        // The first round may create page tables (kept); the second may not lose or keep
        // a single frame more, and the list stays within its bound.
        static void UnmappedFramesReturn(TestContext* t)
        {
            int count = UnitPages.DeferredFrames / FirstChunk.Layout.Units + 8;
            ulong* h = (ulong*)Heap.Allocate((ulong)count * sizeof(ulong));
            ulong* accounted = stackalloc ulong[2];
            for (int round = 0; round < 2; round++)
            {
                int made = 0;
                for (; made < count; made++) if (DynamicPerCpu.Alloc(Page, Page, false, out h[made]) != null) break;
                t->ExpectEqual((ulong)made, (ulong)count, "one-page areas");
                for (int i = 0; i < made; i++) DynamicPerCpu.Free(h[i]);
                accounted[round] = AccountedFrames();
                t->Expect(DynamicPerCpu.WaitingFrames <= UnitPages.DeferredFrames, "frames waiting within the bound");
            }
            Heap.Free(h);
            t->Note($"frames accounted for after each round: {accounted[0]}, {accounted[1]}; waiting now: {DynamicPerCpu.WaitingFrames}");
            t->ExpectEqual(accounted[1], accounted[0], "frames after the second round");
            ExpectPagesMatchTables(t);
        }
    }
}
