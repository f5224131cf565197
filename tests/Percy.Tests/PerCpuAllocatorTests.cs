using System;
using System.Collections.Generic;
using System.Linq;
using Percy.Kernel.Percpu;
using Percy.Tests.Support;
using Xunit;
using static Percy.Tests.Support.PerCpuText;

namespace Percy.Tests;

public class PerCpuAllocatorTests
{
    const ulong Page = 4096;
    const ulong KiB = 1024;
    const ulong Low = PerCpuAllocator.EmptyPopulatedPagesLow;
    const ulong High = PerCpuAllocator.EmptyPopulatedPagesHigh;

    static ulong PagesFor(ulong bytes, ulong page = Page) => (bytes + page - 1) / page;
    static ulong Granules(ulong size) => (size + 3) / 4 * 4;

    static (PerCpuAllocator a, FakePerCpuBackend b) Make(ulong unitVm = 64 * KiB, ulong staticSize = 5000, ulong reserved = 0,
                                                          ulong? populated = null, ulong page = Page)
    {
        ulong pop = populated ?? PagesFor(staticSize, page);
        var b = new FakePerCpuBackend(unitVm / page, pop);
        Assert.Null(PerCpuAllocator.Create(unitVm, page, staticSize, reserved, pop, b, out var a));
        Assert.Null(a.Check());
        return (a, b);
    }

    static ulong Alloc(PerCpuAllocator a, ulong size, ulong align = 4, bool atomic = false)
    {
        Assert.Null(a.Allocate(size, align, atomic, out ulong h));
        Assert.NotEqual(0ul, h);
        Assert.Equal(0ul, h % Math.Max(align, 4));
        Assert.Null(a.Check());
        return h;
    }

    static void Free(PerCpuAllocator a, ulong h)
    {
        Assert.Null(a.Free(h));
        Assert.Null(a.Check());
    }

    // Runs a call that must fail with `expected` and change nothing.
    static void FailsWithoutEffect(PerCpuAllocator a, FakePerCpuBackend b, string expected, Func<string> call)
    {
        string before = State(a, b);
        Assert.Equal(expected, call());
        Assert.Equal(before, State(a, b));
        Assert.Null(a.Check());
    }

    [Theory]
    [InlineData(64 * 1024, 100, 0, 1, 0ul, "page size is not a power of two of at least 256 bytes")]
    [InlineData(64 * 1024, 128, 0, 1, 0ul, "page size is not a power of two of at least 256 bytes")]
    [InlineData(3 * 4096, 4096, 0, 1, 4096ul, "unit_vm is not a power of two")]
    [InlineData(2048, 4096, 0, 1, 4096ul, "unit_vm is smaller than a page")]
    [InlineData(64 * 1024, 4096, 6, 1, 4096ul, "reserved size is not a multiple of 4 bytes")]
    [InlineData(64 * 1024, 4096, 64 * 1024, 1, 4096ul, "unit_vm is smaller than static + reserved")]
    [InlineData(64 * 1024, 4096, 0, 17, 4096ul, "more populated pages than the unit holds")]
    [InlineData(64 * 1024, 4096, 0, 1, 8192ul, "the static part is not populated")]
    public void CreateRefusesBadLayouts(ulong unitVm, ulong page, ulong reserved, ulong populated, ulong staticSize, string error)
    {
        var b = new FakePerCpuBackend(1, 0);
        Assert.Equal(error, PerCpuAllocator.Create(unitVm, page, staticSize, reserved, populated, b, out var a));
        Assert.Null(a);
    }

    [Fact]
    public void CreateRefusesUnitAboveStrideAndMissingBackend()
    {
        Assert.Equal("unit_vm is larger than the per-CPU unit stride (16 GiB)",
            PerCpuAllocator.Create(PerCpuLayout.UnitStride * 2, Page, 0, 0, 0, new FakePerCpuBackend(1, 0), out _));
        Assert.Equal("no per-CPU backend", PerCpuAllocator.Create(64 * KiB, Page, 0, 0, 0, null, out _));
    }

    [Fact]
    public void CreateFromTheFirstChunkLayout()
    {
        Assert.Null(PerCpuLayout.Build(10_000, 8 * KiB, PerCpuLayout.DefaultUnitVm, Page, 4, out var layout));
        var b = new FakePerCpuBackend(layout.UnitVm / Page, layout.CommittedPages);
        Assert.Null(PerCpuAllocator.Create(layout, layout.CommittedPages, b, out var a));
        Assert.Equal(layout.StaticSize, a.StaticBytes);
        Assert.Equal(layout.ReservedSize, a.ReservedBytes);
        Assert.Equal(layout.DynamicOffset, a.DynamicStart);
        Assert.Equal(layout.UnitVm, a.UnitVm);
        Assert.Equal(layout.CommittedPages, a.PopulatedPages);
        Assert.True(a.MaxAllocSize >= layout.DynamicSize);         // a new chunk holds a whole unit
        Assert.Equal(layout.UnitVm, a.MaxAllocSize);
    }

    [Fact]
    public void StatisticsLineCountsSuccessfulCallsOnly()
    {
        const ulong unit = 64 * KiB, stat = 5000, reserved = 256;
        var (a, b) = Make(unit, stat, reserved);
        string Expected(ulong allocs, ulong frees, ulong live, ulong liveBytes, ulong maxLive)
            => $"percpu: allocs={allocs} frees={frees} live={live} live_bytes={liveBytes} max_live_bytes={maxLive} chunks={a.Chunks} populated_pages_per_cpu={b.PopulatedCount} static_bytes={stat} reserved_bytes={reserved} unit_vm={unit}";
        Assert.Equal(Expected(0, 0, 0, 0, 0), Text(a.FormatStats()));
        ulong h1 = Alloc(a, 10), h2 = Alloc(a, 1000, 64);
        ulong r = 0;
        Assert.Null(a.AllocateReserved(13, 4, out r));
        Assert.Equal(Expected(3, 0, 3, Granules(10) + Granules(1000) + Granules(13), Granules(10) + Granules(1000) + Granules(13)), Text(a.FormatStats()));
        Assert.NotNull(a.Allocate(0, 4, false, out _));
        Assert.NotNull(a.Free(h1 + 4));
        Free(a, h2);
        Free(a, r);
        Assert.Equal(Expected(3, 2, 1, Granules(10), Granules(10) + Granules(1000) + Granules(13)), Text(a.FormatStats()));
        Free(a, h1);
        Assert.Equal(0ul, a.Live);
        Assert.Equal(0ul, a.LiveBytes);
    }

    [Fact]
    public void HandlesFollowTheStaticAndReservedPartsAndNameTheSameOffsetOnEveryCpu()
    {
        var (a, _) = Make(64 * KiB, 5001, 512);
        Assert.Equal(5004ul, a.ReservedStart);                       // the static part rounded up to a granule
        Assert.Equal(5004ul + 512, a.DynamicStart);
        ulong h = Alloc(a, 24, 8);
        Assert.True(h >= a.DynamicStart && h < 64 * KiB);
        Assert.Null(a.AllocateReserved(16, 8, out ulong r));
        Assert.True(r >= a.ReservedStart && r + 16 <= a.DynamicStart);
        for (int cpu = 0; cpu < 4; cpu++)
        {
            ulong address = PerCpuLayout.UnitBase(cpu) + h;
            Assert.Equal(PerCpuLayout.GlobalAddress(cpu, h), address);
            Assert.Equal(PerCpuLayout.UnitBase(cpu), address - h);
        }
        Assert.Equal(PerCpuLayout.LocalBase + h, PerCpuLayout.LocalAddress(h));
    }

    [Fact]
    public void ZeroIsNeverAHandleEvenWithoutStaticPart()
    {
        var (a, b) = Make(64 * KiB, 0, 0, populated: 0);
        ulong h = Alloc(a, 4);
        Assert.Equal(4ul, h);                                        // the empty static part keeps granule 0
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrStatic, () => a.Free(0));
        var (r, rb) = Make(64 * KiB, 0, 64, populated: 0);
        Assert.Null(r.AllocateReserved(4, 4, out ulong rh));
        Assert.NotEqual(0ul, rh);
        FailsWithoutEffect(r, rb, PerCpuAllocator.ErrStatic, () => r.Free(0));
    }

    [Fact]
    public void InvalidRequestsFailWithoutEffect()
    {
        var (a, b) = Make(64 * KiB, 5000, 64);
        ulong live = Alloc(a, 100);
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrSizeZero, () => a.Allocate(0, 4, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrSizeZero, () => a.Allocate(0, 4, true, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrTooLarge, () => a.Allocate(a.MaxAllocSize + 1, 4, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrTooLarge, () => a.Allocate(ulong.MaxValue, 4, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrAlignNotPowerOfTwo, () => a.Allocate(8, 0, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrAlignNotPowerOfTwo, () => a.Allocate(8, 12, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrAlignAbovePage, () => a.Allocate(8, Page * 2, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrReservedTooLarge, () => a.AllocateReserved(68, 4, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrAlignAbovePage, () => a.AllocateReserved(8, Page * 2, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrSizeZero, () => a.AllocateReserved(0, 4, out _));
        Free(a, live);
    }

    [Fact]
    public void BogusFreesFailWithoutEffect()
    {
        const ulong unit = 64 * KiB;
        var (a, b) = Make(unit, 5000, 64);
        ulong h = Alloc(a, 64), other = Alloc(a, 32);
        Assert.Null(a.AllocateReserved(16, 4, out ulong r));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrUnaligned, () => a.Free(h + 2));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrStatic, () => a.Free(0));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrStatic, () => a.Free(4096));
        FailsWithoutEffect(a, b, PerCpuChunk.ErrNotAStart, () => a.Free(h + 4));
        FailsWithoutEffect(a, b, PerCpuChunk.ErrNotAStart, () => a.Free(h + 60));
        FailsWithoutEffect(a, b, PerCpuChunk.ErrNotAStart, () => a.Free(r + 4));
        FailsWithoutEffect(a, b, PerCpuChunk.ErrNoArea, () => a.Free(other + 1024));
        FailsWithoutEffect(a, b, PerCpuChunk.ErrNoArea, () => a.Free(r + 32));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrOutside, () => a.Free(unit));               // chunk 1 does not exist
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrOutside, () => a.Free(unit * 100 + 8));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrOutside, () => a.Free(PerCpuLayout.UnitStride));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrOutside, () => a.Free(ulong.MaxValue - 3));
        Free(a, h);
        FailsWithoutEffect(a, b, PerCpuChunk.ErrDoubleFree, () => a.Free(h));
        Free(a, r);
        FailsWithoutEffect(a, b, PerCpuChunk.ErrDoubleFree, () => a.Free(r));
        // Reallocated over: the old handle is now inside the new area.
        ulong big = Alloc(a, 64);
        Assert.Equal(h, big);
        ulong small = Alloc(a, 8);
        Free(a, big);
        ulong shifted = Alloc(a, 4);                                 // takes h, not h + 4
        Assert.Equal(h, shifted);
        Assert.Null(a.Free(small));
        Assert.Null(a.Free(other));
        Assert.Null(a.Free(shifted));
        Assert.Null(a.Check());
    }

    [Fact]
    public void AreaSizeReportsWhatAFreeWouldReturn()
    {
        var (a, _) = Make();
        ulong h = Alloc(a, 13, 16);
        Assert.Null(a.AreaSize(h, out ulong bytes));
        Assert.Equal(Granules(13), bytes);
        Assert.Equal(PerCpuChunk.ErrNotAStart, a.AreaSize(h + 4, out _));
        ulong live = a.LiveBytes;
        Free(a, h);
        Assert.Equal(live - bytes, a.LiveBytes);
        Assert.Equal(PerCpuChunk.ErrDoubleFree, a.AreaSize(h, out _));
    }

    [Fact]
    public void EveryAlignmentUpToAPageIsHonoured()
    {
        var (a, _) = Make(256 * KiB, 5000);
        var handles = new List<(ulong h, ulong size)>();
        for (ulong align = 1; align <= Page; align *= 2)
            for (ulong size = 1; size < 40; size += 13)
            {
                ulong h = Alloc(a, size, align);
                Assert.Equal(0ul, h % align);
                handles.Add((h, size));
            }
        var sorted = handles.OrderBy(x => x.h).ToList();
        for (int i = 1; i < sorted.Count; i++) Assert.True(sorted[i - 1].h + sorted[i - 1].size <= sorted[i].h);
        foreach (var (h, _) in handles) Free(a, h);
    }

    [Fact]
    public void FreedSpaceIsReusedFirstFit()
    {
        var (a, _) = Make();
        ulong x = Alloc(a, 16), y = Alloc(a, 16), z = Alloc(a, 16);
        Assert.Equal(x + 16, y);
        Assert.Equal(y + 16, z);
        Free(a, y);
        Assert.Equal(y, Alloc(a, 8));
        Assert.Equal(y + 8, Alloc(a, 8));
        Assert.Equal(z + 16, Alloc(a, 4));
    }

    [Fact]
    public void AreasCrossPageAndBlockBoundaries()
    {
        // 256-byte pages: one 64-granule word per block, so areas span many blocks.
        const ulong page = 256;
        var (a, b) = Make(16 * KiB, 300, 0, page: page);
        var live = new List<ulong>();
        for (int i = 0; i < 20; i++) live.Add(Alloc(a, 100 + (ulong)i * 37, 4));
        ulong big = Alloc(a, 3000, 256);
        Assert.Equal(0ul, big % 256);
        for (int i = 0; i < live.Count; i += 2) Free(a, live[i]);
        ulong again = Alloc(a, 700, 64);
        Free(a, big);
        Free(a, again);
        for (int i = 1; i < live.Count; i += 2) Free(a, live[i]);
        Assert.Equal(0ul, a.Live);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void ANewChunkIsCreatedWhenNoneFitsAndTheLargestAllocationIsAUnit()
    {
        const ulong unit = 64 * KiB;
        var (a, b) = Make(unit, 5000);
        Assert.Equal(unit, a.MaxAllocSize);
        ulong fill = Alloc(a, unit - a.DynamicStart);
        Assert.Equal(a.DynamicStart, fill);
        Assert.Equal(1ul, a.Chunks);
        ulong next = Alloc(a, 8);
        Assert.Equal(2ul, a.Chunks);
        Assert.Equal(unit, next);                                    // chunk 1, offset 0
        Assert.Contains("create 1", b.Log);
        ulong whole = Alloc(a, unit);
        Assert.Equal(2 * unit, whole);
        Assert.Equal(3ul, a.Chunks);
        Assert.Equal(unit / Page, b.PopulatedIn(2));
        Assert.Equal(PerCpuAllocator.ErrTooLarge, a.Allocate(unit + 1, 4, false, out _));
        Free(a, whole);
        Free(a, next);
        Free(a, fill);
    }

    [Fact]
    public void EmptyChunksAreDestroyedExceptOne()
    {
        const ulong unit = 16 * KiB;
        var (a, b) = Make(unit, 5000);
        Alloc(a, unit - a.DynamicStart);                             // chunk 0 full
        ulong c1 = Alloc(a, unit), c2 = Alloc(a, unit), c3 = Alloc(a, unit);
        Assert.Equal(4ul, a.Chunks);
        Free(a, c1);                                                 // chunk 1 empty: kept
        Assert.Equal(4ul, a.Chunks);
        Assert.Empty(b.Destroyed);
        Free(a, c3);                                                 // two empty: the higher index goes
        Assert.Equal(3ul, a.Chunks);
        Assert.Equal(new[] { 3 }, b.Destroyed);
        Assert.False(b.Exists(3));
        Assert.True(a.ChunkExists(1));
        Free(a, c2);
        Assert.Equal(new[] { 3, 2 }, b.Destroyed);
        Assert.Equal(2ul, a.Chunks);
        Assert.Equal(2, a.ChunkIndexLimit);
        // The kept chunk serves the next request; a new one takes the lowest free index.
        Assert.Equal(unit, Alloc(a, 8));
        Assert.Equal(2 * unit, Alloc(a, unit));
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void AChunkWithLiveAreasIsNeverDestroyed()
    {
        const ulong unit = 16 * KiB;
        var (a, b) = Make(unit, 5000);
        Alloc(a, unit - a.DynamicStart);
        ulong keep = Alloc(a, 4);                                    // chunk 1
        ulong c2 = Alloc(a, unit), c3 = Alloc(a, unit);
        Free(a, c2);
        Free(a, c3);
        Assert.True(a.ChunkExists(1));
        Assert.Single(b.Destroyed);
        Assert.Null(a.AreaSize(keep, out _));
    }

    [Fact]
    public void PagesArePopulatedOnFirstTouch()
    {
        var (a, b) = Make(64 * KiB, 5000);                         // static: pages 0 and 1
        Assert.Equal(2ul, a.PopulatedPages);
        ulong h = Alloc(a, 8);                                       // page 1, populated already
        Assert.Equal(1ul, h / Page);
        ulong big = Alloc(a, 3 * Page, Page);                        // pages 2..4
        Assert.Equal(2 * Page, big);
        for (ulong p = 2; p < 5; p++) Assert.True(b.IsPopulated(0, p));
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void EmptiedPagesAreDepopulatedBeyondTheReserve()
    {
        var (a, b) = Make(128 * KiB, 4096);                        // static: exactly page 0
        var pages = new List<ulong>();
        for (int i = 0; i < 12; i++) pages.Add(Alloc(a, Page, Page));
        ulong before = a.PopulatedPages;
        foreach (var h in pages) Free(a, h);
        // Every page but the static one is empty now: the reserve is what stays.
        Assert.Equal(High, a.EmptyPopulatedPages);
        Assert.Equal(1 + High, a.PopulatedPages);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
        Assert.True(before > a.PopulatedPages);
        Assert.True(b.DepopulateCalls > 0);
    }

    [Fact]
    public void NormalAllocationsRefillTheReserve()
    {
        var (a, b) = Make(128 * KiB, 4096);
        Assert.Equal(0ul, a.EmptyPopulatedPages);
        Alloc(a, 16);                                                // populates page 1, then refills
        Assert.Equal(High, a.EmptyPopulatedPages);
        Assert.Equal(1 + 1 + High, a.PopulatedPages);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
        // A failing refill is not the allocation's failure.
        b.FailPopulate = true;
        var big = Alloc(a, 3 * Page, Page);                          // lands on reserve pages only
        Assert.True(a.EmptyPopulatedPages < Low);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
        b.FailPopulate = false;
        Free(a, big);
    }

    static ulong AllocClean(PerCpuAllocator a, ulong size, ulong align, bool expectClean)
    {
        Assert.Null(a.Allocate(size, align, false, out ulong h, out bool clean));
        Assert.Equal(expectClean, clean);
        Assert.Null(a.Check());
        return h;
    }

    [Fact]
    public void AreasOnBytesNoAreaHeldSinceTheirPageWasPopulatedAreClean()
    {
        var (a, b) = Make(128 * KiB, 4096);                        // static: exactly page 0
        // A burst in fresh pages (and in the zero tail of the boot pages) needs no clearing.
        var small = new List<ulong>();
        for (int i = 0; i < 600; i++) small.Add(AllocClean(a, 8, 8, true));   // crosses into page 2
        // Freed and handed out again: it holds its old owner's bytes.
        Free(a, small[10]);
        Assert.Equal(small[10], AllocClean(a, 8, 8, false));
        // An area that reaches below a page's mark is not clean, though most of it is fresh.
        Free(a, small[599]);
        AllocClean(a, 16, 4, false);
        // Pages emptied, depopulated and populated again are fresh again.
        var pages = new List<ulong>();
        for (int i = 0; i < 12; i++) pages.Add(AllocClean(a, Page, Page, true));
        foreach (var h in pages) Free(a, h);
        ulong last = pages[^1] / Page;
        Assert.False(b.IsPopulated(0, last));
        var depopulated = pages.Select(h => !b.IsPopulated(0, h / Page)).ToList();
        Assert.Contains(false, depopulated);                         // the reserve kept some
        var again = new List<ulong>();
        for (int i = 0; i < 12; i++) again.Add(AllocClean(a, Page, Page, depopulated[i]));
        Assert.Equal(pages, again);
        Free(a, again[^1]);
        Assert.True(b.IsPopulated(0, last));                         // kept as reserve: dirty still
        Assert.Equal(again[^1], AllocClean(a, Page, Page, false));
    }

    [Fact]
    public void PinnedBootPagesStayPopulated()
    {
        var (a, b) = Make(128 * KiB, 5000, 0, populated: 10);
        Assert.Equal(10ul, a.PopulatedPages);
        Assert.Equal(8ul, a.EmptyPopulatedPages);                  // pages 2..9
        var hs = new List<ulong>();
        for (int i = 0; i < 12; i++) hs.Add(Alloc(a, Page, Page));
        foreach (var h in hs) Free(a, h);
        for (ulong p = 0; p < 10; p++) Assert.True(b.IsPopulated(0, p));
        // The pinned empty pages make the reserve: the freed pages past them went, except
        // reserve pages mapped ahead by refills (at most High of them).
        Assert.True(b.DepopulateCalls > 0);
        Assert.True(a.PopulatedPages <= 10 + High);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void AtomicRequestsUseOnlyPopulatedPages()
    {
        var (a, b) = Make(64 * KiB, 5000, 0, populated: 3);        // pages 0..2; 1 and 2 partly free
        int calls = b.PopulateCalls;
        var hs = new List<ulong>();
        while (true)
        {
            string before = State(a, b);
            string err = a.Allocate(100, 4, true, out ulong h);
            if (err != null)
            {
                Assert.Equal(PerCpuAllocator.ErrAtomicNoSpace, err);
                Assert.Equal(before, State(a, b));
                break;
            }
            Assert.True(b.IsPopulated(0, h / Page) && b.IsPopulated(0, (h + 99) / Page));
            hs.Add(h);
        }
        Assert.Equal(calls, b.PopulateCalls);
        Assert.Equal((3 * Page - a.DynamicStart) / 100, (ulong)hs.Count);
        Assert.Equal(1ul, a.Chunks);
        // A normal request populates; atomic ones then fit again.
        Alloc(a, 100);
        Assert.True(b.PopulateCalls > calls);
        Alloc(a, 100, 4, atomic: true);
    }

    [Fact]
    public void AtomicRequestsSkipUnpopulatedHolesToALaterPopulatedPage()
    {
        var (a, b) = Make(64 * KiB, 4096);                         // static: page 0
        ulong x = Alloc(a, Page, Page);                              // page 1; the refill maps 2..5
        Assert.Equal(Page, x);
        ulong y = Alloc(a, 4 * Page, Page);                          // pages 2..5; the refill maps 6..9
        Assert.Equal(2 * Page, y);
        Free(a, x);                                                  // page 1: over the reserve, unmapped
        Assert.False(b.IsPopulated(0, 1));
        for (ulong p = 6; p < 10; p++) Assert.True(b.IsPopulated(0, p));
        int calls = b.PopulateCalls;
        // The first fit (page 1) is not mapped: the atomic path moves on to page 6.
        ulong h = Alloc(a, Page, Page, atomic: true);
        Assert.Equal(6 * Page, h);
        Assert.Equal(calls, b.PopulateCalls);
        // A normal request takes the first fit and maps it.
        ulong n = Alloc(a, Page, Page);
        Assert.Equal(Page, n);
        Assert.True(b.IsPopulated(0, 1));
        Free(a, h);
        Free(a, y);
        Free(a, n);
    }

    [Fact]
    public void AtomicRequestsNeverCreateChunks()
    {
        const ulong unit = 16 * KiB;
        var (a, b) = Make(unit, 5000);
        Alloc(a, unit - a.DynamicStart);
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrAtomicNoSpace, () => a.Allocate(8, 4, true, out _));
        Assert.Equal(0, b.CreateCalls);
    }

    [Fact]
    public void PopulateFailureFailsTheAllocationWithoutEffect()
    {
        var (a, b) = Make(64 * KiB, 4096);
        b.FailPopulate = true;
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrPopulate, () => a.Allocate(8, 4, false, out _));
        b.FailPopulate = false;
        ulong h = Alloc(a, 8);
        Free(a, h);
    }

    [Fact]
    public void PopulateFailureMidwayRollsBackEarlierRuns()
    {
        var (a, b) = Make(64 * KiB, 4096);
        ulong x = Alloc(a, Page, Page);                              // page 1; refill maps 2..5
        ulong y = Alloc(a, 4 * Page, Page);                          // pages 2..5; refill maps 6..9
        Free(a, x);
        Free(a, y);                                                  // 1..5 unmapped, 6..9 kept as the reserve
        for (ulong p = 1; p < 6; p++) Assert.False(b.IsPopulated(0, p));
        for (ulong p = 6; p < 10; p++) Assert.True(b.IsPopulated(0, p));
        // Pages 1..12 need two runs mapped: 1..5 and 10..12. The second one fails.
        int calls = b.PopulateCalls;
        b.FailPopulateAt = calls + 1;
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrPopulate, () => a.Allocate(12 * Page, Page, false, out _));
        Assert.Equal(calls + 2, b.PopulateCalls);
        Assert.Contains("depopulate 0 1+5", b.Log);                  // the first run, unmapped again
        b.FailPopulateAt = -1;
        Assert.Equal(Page, Alloc(a, 12 * Page, Page));
    }

    [Fact]
    public void PopulateFailureInANewChunkDestroysIt()
    {
        const ulong unit = 16 * KiB;
        var (a, b) = Make(unit, 5000);
        Alloc(a, unit - a.DynamicStart);
        b.FailPopulate = true;
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrPopulate, () => a.Allocate(8, 4, false, out _));
        Assert.Equal(new[] { 1 }, b.Destroyed);
        b.FailPopulate = false;
        b.FailCreate = true;
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrCreateChunk, () => a.Allocate(8, 4, false, out _));
        b.FailCreate = false;
        Assert.Equal(unit, Alloc(a, 8));                             // the recycled chunk object works
    }

    [Fact]
    public void AUnitAsLargeAsTheStrideHasOneChunkAndLazyMetadata()
    {
        ulong unit = PerCpuLayout.UnitStride;                       // 16 GiB: a single chunk
        var (a, b) = Make(unit, 20_000);
        Assert.Equal(1ul, a.MaxChunks);
        Assert.Equal(unit - a.DynamicStart, a.MaxAllocSize);
        Assert.Equal(1, a.Chunk(0).SegmentCount);                    // 256 KiB of unit: 16 KiB of bitmaps
        ulong h = Alloc(a, 1 << 20, Page);
        Assert.Equal(5, a.Chunk(0).SegmentCount);
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrNoVirtualSpace, () => a.Allocate(a.MaxAllocSize, 4, false, out _));
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrTooLarge, () => a.Allocate(a.MaxAllocSize + 4, 4, false, out _));
        Free(a, h);
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void ReservedPartServesOnlyReservedRequests()
    {
        const ulong unit = 16 * KiB, reserved = 1024;
        var (a, b) = Make(unit, 3000, reserved);
        Alloc(a, unit - a.DynamicStart);                             // dynamic part of chunk 0 full
        ulong n = Alloc(a, 8);
        Assert.Equal(unit, n);                                       // not in the reserved part
        var rs = new List<ulong>();
        while (a.AllocateReserved(64, 64, out ulong r) == null)
        {
            Assert.True(r >= a.ReservedStart && r + 64 <= a.DynamicStart && r % 64 == 0);
            rs.Add(r);
        }
        FailsWithoutEffect(a, b, PerCpuAllocator.ErrReservedFull, () => a.AllocateReserved(128, 4, out _));
        Assert.Null(a.AllocateReserved(8, 4, out ulong head));      // the unaligned 8 bytes at the start
        Assert.Equal(a.ReservedStart, head);
        rs.Add(head);
        Assert.True(rs.Count >= (int)(reserved / 64) - 1);
        foreach (var r in rs) Free(a, r);
        Assert.Equal(PerCpuAllocator.ErrNoReserved, Make().a.AllocateReserved(4, 4, out _));
        Assert.Equal(b.PopulatedCount, a.PopulatedPages);
    }

    [Fact]
    public void ReservedPagesArePopulatedOnUse()
    {
        var (a, b) = Make(64 * KiB, 4096, 2 * Page);                 // reserved: pages 1 and 2
        Assert.False(b.IsPopulated(0, 2));
        Assert.Null(a.AllocateReserved(Page, Page, out ulong r));
        Assert.Equal(Page, r);
        Assert.Null(a.AllocateReserved(8, 4, out ulong r2));
        Assert.Equal(2 * Page, r2);
        Assert.True(b.IsPopulated(0, 1) && b.IsPopulated(0, 2));
        Free(a, r2);
        Free(a, r);
        Assert.True(b.IsPopulated(0, 2));                            // reserved pages stay
        var (c, cb) = Make(64 * KiB, 4096, 2 * Page);
        cb.FailPopulate = true;
        FailsWithoutEffect(c, cb, PerCpuAllocator.ErrPopulate, () => c.AllocateReserved(8, 4, out _));
    }

    [Fact]
    public void ChunkLinesReportFreeSpaceAndFragmentation()
    {
        const ulong unit = 64 * KiB;
        var (a, b) = Make(unit, 4096);
        var hs = new List<ulong>();
        for (int i = 0; i < 10; i++) hs.Add(Alloc(a, 400));
        for (int i = 0; i < 10; i += 2) Free(a, hs[i]);                // five 400-byte holes
        ulong free = unit - a.DynamicStart - 5 * 400;
        ulong tail = unit - (hs[9] + 400);
        ulong frag = (free - tail) * 100 / free;
        Assert.Equal($"percpu: chunk 0 base=0x0 free={free} max_contig={tail} populated={b.PopulatedIn(0)} fragmentation={frag}%",
                     Text(a.FormatChunkLine(0)));
        Assert.Equal(0ul, PerCpuAllocator.FragmentationPercent(0, 0));
        Assert.Equal(0ul, PerCpuAllocator.FragmentationPercent(100, 100));
        Assert.Equal(75ul, PerCpuAllocator.FragmentationPercent(400, 100));
        // Another chunk's line carries its base.
        Alloc(a, unit);
        Assert.StartsWith($"percpu: chunk 1 base=0x{unit:x} free=0 max_contig=0 populated={unit / Page} fragmentation=0%", Text(a.FormatChunkLine(1)));
        var (r, _) = Make(unit, 5000, 256);
        Assert.Equal($"percpu: reserved base=0x{r.ReservedStart:x} size=256 free=256 max_contig=256 fragmentation=0%", Text(r.FormatReservedLine()));
    }

    [Fact]
    public void FullAndNearlyFullChunksAreSkippedBySlot()
    {
        const ulong unit = 16 * KiB;
        var (a, _) = Make(unit, 5000);
        ulong fill = Alloc(a, unit - a.DynamicStart - 8);            // chunk 0: 8 bytes left
        ulong big = Alloc(a, 64);
        Assert.Equal(unit, big);                                     // went to chunk 1
        ulong small = Alloc(a, 8);
        Assert.Equal(unit - 8, small);                               // the last 8 bytes of chunk 0
        Free(a, fill);
        Free(a, big);
        Free(a, small);
        Assert.Equal(0ul, a.Live);
    }
}
