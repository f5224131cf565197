using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Percy.Kernel.Percpu;
using Percy.Tests.Support;
using Xunit;
using static Percy.Tests.Support.PerCpuText;

namespace Percy.Tests;

// The allocator against a reference model: a sorted list of live areas, the handles
// freed since (for double-free answers), and the pages the fake backend has mapped.
public class PerCpuAllocatorPropertyTests
{
    public sealed record Config(ulong UnitVm, ulong Page, ulong Static, ulong Reserved, ulong Pinned, double FailRate)
    {
        public override string ToString() => $"unit={UnitVm} page={Page} static={Static} reserved={Reserved} pinned={Pinned} fail={FailRate}";
    }

    sealed class Area
    {
        public ulong Start, Bytes, Align;
        public bool Reserved;
    }

    // The model and the checks. Everything it expects is computed from the areas it
    // knows are live, never read back from the allocator (except which chunks exist,
    // which it takes from the backend the allocator drives).
    sealed class Model
    {
        public readonly Config Cfg;
        public readonly PerCpuAllocator A;
        public readonly FakePerCpuBackend B;
        readonly List<ulong> _starts = new();                      // sorted
        readonly Dictionary<ulong, Area> _areas = new();
        readonly SortedSet<ulong> _stale = new();                  // freed area starts whose bound bit stays
        // Per chunk, one bit per 4-byte granule: handed out to some area since its page was
        // last populated (so no longer known to be zero). A zeroed page clears its bits.
        readonly Dictionary<int, ulong[]> _dirty = new();
        ulong _allocs, _frees, _liveBytes, _maxLiveBytes;
        int _destroyedSeen;
        public readonly ulong PagesPerChunk, PrefixPages;

        public Model(Config cfg)
        {
            Cfg = cfg;
            PagesPerChunk = cfg.UnitVm / cfg.Page;
            B = new FakePerCpuBackend(PagesPerChunk, cfg.Pinned) { Logging = false };
            Assert.Null(PerCpuAllocator.Create(cfg.UnitVm, cfg.Page, cfg.Static, cfg.Reserved, cfg.Pinned, B, out var a));
            A = a;
            PrefixPages = (A.DynamicStart + cfg.Page - 1) / cfg.Page;
            B.Populated = (k, first, pages) => DirtyBits(k, first * cfg.Page / 4, (first + pages) * cfg.Page / 4, false);
        }

        // Sets (dirty) or clears granule bits [lo, hi) of chunk k; true if any was set before.
        bool DirtyBits(int k, ulong lo, ulong hi, bool dirty)
        {
            if (!_dirty.TryGetValue(k, out var bits)) _dirty[k] = bits = new ulong[Cfg.UnitVm / 4 / 64];
            bool any = false;
            for (ulong g = lo; g < hi; g++)
            {
                ulong m = 1ul << (int)(g % 64);
                any |= (bits[g / 64] & m) != 0;
                if (dirty) bits[g / 64] |= m; else bits[g / 64] &= ~m;
            }
            return any;
        }

        public int Count => _starts.Count;
        public ulong LiveBytes => _liveBytes;
        public ulong RandomLive(Random r) => _starts[r.Next(_starts.Count)];
        public ulong RandomStale(Random r)
        {
            if (_stale.Count == 0) return 0;
            ulong x = _stale.Min + (ulong)r.NextInt64(0, (long)(_stale.Max - _stale.Min + 1));
            return _stale.GetViewBetween(x, _stale.Max).Min;
        }

        int Floor(ulong x)                                        // index of the last start <= x, or -1
        {
            int i = _starts.BinarySearch(x);
            return i >= 0 ? i : ~i - 1;
        }

        Area Containing(ulong x)
        {
            int i = Floor(x);
            if (i < 0) return null;
            var area = _areas[_starts[i]];
            return x < area.Start + area.Bytes ? area : null;
        }

        int ChunkOf(Area area) => area.Reserved ? 0 : (int)(area.Start / Cfg.UnitVm);

        string Fingerprint()
            => $"{A.Allocations} {A.Frees} {A.Live} {A.LiveBytes} {A.MaxLiveBytes} {A.Chunks} {A.PopulatedPages} {A.EmptyPopulatedPages} {A.ChunkIndexLimit} {B.StateHash:x}";

        // ---- operations ---------------------------------------------------------------

        public bool CheckPlacement;                                 // first fit and no needless chunk (costs O(live))

        public void Allocate(ulong size, ulong align, bool atomic, bool reserved, bool fullStateOnFailure)
        {
            var chunksBefore = CheckPlacement ? B.ChunkIndices.ToList() : null;
            string before = fullStateOnFailure ? State(A, B) : Fingerprint();
            int populateCalls = B.PopulateCalls, createCalls = B.CreateCalls;
            bool clean = false;
            string err = reserved ? A.AllocateReserved(size, align, out ulong h) : A.Allocate(size, align, atomic, out h, out clean);
            string expectedInvalid = Invalid(size, align, reserved);
            if (expectedInvalid != null || err != null)
            {
                if (expectedInvalid != null) Assert.Equal(expectedInvalid, err);
                else AssertLegitimateFailure(err, size, align, atomic, reserved);
                Assert.Equal(0ul, h);
                Assert.Equal(before, fullStateOnFailure ? State(A, B) : Fingerprint());
                return;
            }
            Assert.NotEqual(0ul, h);
            Assert.Equal(0ul, h % Math.Max(align, 4));
            ulong bytes = (size + 3) / 4 * 4;
            if (reserved) Assert.True(h >= A.ReservedStart && h + bytes <= A.DynamicStart, "reserved area outside the reserved part");
            else
            {
                Assert.True(h >= A.DynamicStart, "dynamic area in the static or reserved part");
                Assert.True(h / Cfg.UnitVm == (h + bytes - 1) / Cfg.UnitVm, "area crosses a chunk end");
            }
            if (atomic)
            {
                Assert.Equal(populateCalls, B.PopulateCalls);
                Assert.Equal(createCalls, B.CreateCalls);
            }
            if (CheckPlacement)
            {
                // The area is the first fit of its chunk (atomic: the first on mapped pages),
                // and a chunk was created only if no existing chunk had room.
                int k = reserved ? -1 : (int)(h / Cfg.UnitVm);
                Assert.Equal(FirstFit(k, size, align, atomic), h);
                if (B.CreateCalls > createCalls)
                    foreach (int old in chunksBefore) Assert.False(FitExists(old, size, align, false), $"a chunk was created but chunk {old} had room");
            }
            // Clean: no byte of it was in any area since its page was populated, so it is
            // still zero. Either way its bytes are handed out now.
            int chunk = reserved ? 0 : (int)(h / Cfg.UnitVm);
            ulong g0 = (h - (ulong)chunk * Cfg.UnitVm) / 4;
            bool wasDirty = DirtyBits(chunk, g0, g0 + bytes / 4, true);
            if (clean) Assert.False(wasDirty, $"area 0x{h:x} ({bytes} bytes) said clean, but some of it was handed out since its page was populated");
            // No overlap with the neighbours.
            int i = Floor(h);
            if (i >= 0) { var prev = _areas[_starts[i]]; Assert.True(prev.Start + prev.Bytes <= h, "overlaps the previous area"); }
            if (i + 1 < _starts.Count) Assert.True(h + bytes <= _starts[i + 1], "overlaps the next area");
            _starts.Insert(i + 1, h);
            _areas[h] = new Area { Start = h, Bytes = bytes, Align = align, Reserved = reserved };
            _stale.GetViewBetween(h, h + bytes - 1).Clear();
            _allocs++;
            _liveBytes += bytes;
            _maxLiveBytes = Math.Max(_maxLiveBytes, _liveBytes);
            SyncDestroyed();
            if (!atomic && !reserved && Cfg.FailRate == 0) CheckReserveRefilled((int)(h / Cfg.UnitVm));
        }

        string Invalid(ulong size, ulong align, bool reserved)
        {
            if (reserved && Cfg.Reserved == 0) return PerCpuAllocator.ErrNoReserved;
            if (size == 0) return PerCpuAllocator.ErrSizeZero;
            if (reserved ? size > Cfg.Reserved : size > A.MaxAllocSize) return reserved ? PerCpuAllocator.ErrReservedTooLarge : PerCpuAllocator.ErrTooLarge;
            if (align == 0 || (align & (align - 1)) != 0) return PerCpuAllocator.ErrAlignNotPowerOfTwo;
            if (align > Cfg.Page) return PerCpuAllocator.ErrAlignAbovePage;
            return null;
        }

        void AssertLegitimateFailure(string err, ulong size, ulong align, bool atomic, bool reserved)
        {
            if (reserved)
            {
                if (err == PerCpuAllocator.ErrReservedFull) Assert.False(FitExists(-1, size, align, false), "reserved part said full but a fit exists");
                else Assert.Equal(PerCpuAllocator.ErrPopulate, err);
                return;
            }
            if (atomic)
            {
                Assert.Equal(PerCpuAllocator.ErrAtomicNoSpace, err);
                foreach (int k in B.ChunkIndices)
                    Assert.False(FitExists(k, size, align, true), $"atomic request failed but chunk {k} has a populated fit");
                return;
            }
            Assert.True(Cfg.FailRate > 0, $"a valid request failed without memory pressure: {err}");
            Assert.True(err == PerCpuAllocator.ErrPopulate || err == PerCpuAllocator.ErrCreateChunk, err);
        }

        public void Free(ulong h, bool fullStateOnFailure)
        {
            string expected = ExpectedFreeError(h);
            string before = expected != null ? (fullStateOnFailure ? State(A, B) : Fingerprint()) : null;
            string err = A.Free(h);
            Assert.Equal(expected, err);
            if (expected != null)
            {
                Assert.Equal(before, fullStateOnFailure ? State(A, B) : Fingerprint());
                return;
            }
            var area = _areas[h];
            _areas.Remove(h);
            _starts.RemoveAt(_starts.BinarySearch(h));
            _stale.Add(h);
            _frees++;
            _liveBytes -= area.Bytes;
            SyncDestroyed();
        }

        string ExpectedFreeError(ulong h)
        {
            if (h % 4 != 0) return PerCpuAllocator.ErrUnaligned;
            if (h < A.ReservedStart) return PerCpuAllocator.ErrStatic;
            if (h >= A.DynamicStart)
            {
                ulong k = h / Cfg.UnitVm;
                if (k >= A.MaxChunks || !B.Exists((int)k)) return PerCpuAllocator.ErrOutside;
            }
            if (_areas.ContainsKey(h)) return null;
            if (Containing(h) != null) return PerCpuChunk.ErrNotAStart;
            return _stale.Contains(h) ? PerCpuChunk.ErrDoubleFree : PerCpuChunk.ErrNoArea;
        }

        // A destroyed chunk forgets its freed-area marks.
        void SyncDestroyed()
        {
            for (; _destroyedSeen < B.Destroyed.Count; _destroyedSeen++)
            {
                int k = B.Destroyed[_destroyedSeen];
                ulong lo = (ulong)k * Cfg.UnitVm, hi = lo + Cfg.UnitVm;
                _stale.GetViewBetween(lo, hi - 1).Clear();
            }
        }

        // ---- what must hold -------------------------------------------------------------

        // Free runs of a chunk (k = -1: the reserved part) as [start, end) byte offsets.
        List<(ulong start, ulong end)> FreeRuns(int k)
        {
            ulong lo = k < 0 ? A.ReservedStart : k == 0 ? A.DynamicStart : (ulong)k * Cfg.UnitVm;
            ulong hi = k < 0 ? A.DynamicStart : ((ulong)k + 1) * Cfg.UnitVm;
            var runs = new List<(ulong, ulong)>();
            ulong pos = lo;
            int i = Floor(lo);
            if (i < 0) i = 0;
            for (; i < _starts.Count && _starts[i] < hi; i++)
            {
                var area = _areas[_starts[i]];
                if (area.Start + area.Bytes <= lo) continue;
                if (area.Start > pos) runs.Add((pos, area.Start));
                pos = Math.Max(pos, area.Start + area.Bytes);
            }
            if (pos < hi) runs.Add((pos, hi));
            return runs;
        }

        bool FitExists(int k, ulong size, ulong align, bool populatedOnly) => FirstFit(k, size, align, populatedOnly) != ulong.MaxValue;

        // The lowest aligned place for the request in chunk k (-1: reserved part), before
        // it is recorded as live; ulong.MaxValue if none.
        ulong FirstFit(int k, ulong size, ulong align, bool populatedOnly)
        {
            ulong bytes = (size + 3) / 4 * 4, step = Math.Max(align, 4);
            foreach (var (start, end) in FreeRuns(k))
                for (ulong s = (start + step - 1) / step * step; s + bytes <= end; s += step)
                {
                    if (!populatedOnly) return s;
                    bool mapped = true;
                    for (ulong p = (s % Cfg.UnitVm) / Cfg.Page; p <= ((s + bytes - 1) % Cfg.UnitVm) / Cfg.Page && mapped; p++)
                        mapped = B.IsPopulated(k, p);
                    if (mapped) return s;
                }
            return ulong.MaxValue;
        }

        // Pages of chunk k that a live area touches (and, withPrefix, chunk 0's pages that
        // hold static or reserved bytes: never empty, whether mapped or not).
        HashSet<ulong> TouchedPages(int k, bool withPrefix = true)
        {
            var pages = new HashSet<ulong>();
            if (k == 0 && withPrefix) for (ulong p = 0; p < PrefixPages; p++) pages.Add(p);
            foreach (var area in _areas.Values)
            {
                if (ChunkOf(area) != k) continue;
                ulong off = area.Start - (ulong)k * Cfg.UnitVm;
                for (ulong p = off / Cfg.Page; p <= (off + area.Bytes - 1) / Cfg.Page; p++) pages.Add(p);
            }
            return pages;
        }

        // After a normal allocation with a backend that never fails: either the reserve
        // is at least Low, or the chunk has no empty unmapped page left from its first
        // free granule on.
        void CheckReserveRefilled(int k)
        {
            if (A.EmptyPopulatedPages >= PerCpuAllocator.EmptyPopulatedPagesLow || !A.ChunkExists(k)) return;
            var touched = TouchedPages(k);
            ulong first = A.Chunk(k).FirstFree / (Cfg.Page / 4);
            for (ulong p = first; p < PagesPerChunk; p++)
                Assert.False(!touched.Contains(p) && !B.IsPopulated(k, p), $"reserve below Low but page {k}:{p} could have been mapped");
        }

        public void CheckCounters()
        {
            Assert.Equal(_allocs, A.Allocations);
            Assert.Equal(_frees, A.Frees);
            Assert.Equal((ulong)_starts.Count, A.Live);
            Assert.Equal(_liveBytes, A.LiveBytes);
            Assert.Equal(_maxLiveBytes, A.MaxLiveBytes);
        }

        public void CheckAll()
        {
            CheckCounters();
            Assert.Null(A.Check());
            // Areas: aligned, disjoint, each in one chunk, the same size the allocator reports.
            for (int i = 0; i < _starts.Count; i++)
            {
                var area = _areas[_starts[i]];
                Assert.Equal(0ul, area.Start % Math.Max(area.Align, 4));
                if (i + 1 < _starts.Count) Assert.True(area.Start + area.Bytes <= _starts[i + 1]);
                Assert.Null(A.AreaSize(area.Start, out ulong bytes));
                Assert.Equal(area.Bytes, bytes);
            }
            // Chunks: the backend's and the allocator's agree; every chunk but 0 holds a
            // live area, except at most one kept empty.
            var chunks = B.ChunkIndices.OrderBy(k => k).ToList();
            Assert.Equal((ulong)chunks.Count, A.Chunks);
            foreach (int k in chunks) Assert.True(A.ChunkExists(k));
            var used = new HashSet<int>(_areas.Values.Select(ChunkOf));
            Assert.True(chunks.Count(k => k != 0 && !used.Contains(k)) <= 1, "more than one empty chunk kept");
            foreach (int k in used) Assert.True(B.Exists(k));
            // Pages: touched pages are mapped; the rest of the mapped pages are the reserve.
            ulong empty = 0, emptyUnpinned = 0;
            foreach (int k in chunks)
            {
                foreach (var p in TouchedPages(k, false)) Assert.True(B.IsPopulated(k, p), $"page {k}:{p} holds a live area but is not mapped");
                var touched = TouchedPages(k);
                for (ulong p = 0; p < PagesPerChunk; p++)
                {
                    if (!B.IsPopulated(k, p) || touched.Contains(p)) continue;
                    empty++;
                    if (k != 0 || p >= Cfg.Pinned) emptyUnpinned++;
                }
                Assert.Equal(B.PopulatedIn(k), A.Chunk(k).PopulatedPages);
            }
            Assert.Equal(B.PopulatedCount, A.PopulatedPages);
            Assert.Equal(empty, A.EmptyPopulatedPages);
            Assert.True(emptyUnpinned <= PerCpuAllocator.EmptyPopulatedPagesHigh, $"{emptyUnpinned} empty mapped pages beyond the reserve");
            string stats = Text(A.FormatStats());
            Assert.Equal($"percpu: allocs={_allocs} frees={_frees} live={_starts.Count} live_bytes={_liveBytes} max_live_bytes={_maxLiveBytes} chunks={chunks.Count} populated_pages_per_cpu={B.PopulatedCount} static_bytes={Cfg.Static} reserved_bytes={Cfg.Reserved} unit_vm={Cfg.UnitVm}", stats);
        }
    }

    // ---- random operations -------------------------------------------------------------------

    static ulong RandomSize(Random r, Config cfg)
    {
        int pick = r.Next(100);
        if (pick < 60) return (ulong)r.Next(1, 65);
        if (pick < 88) return (ulong)r.Next(65, 2049);
        if (pick < 97) return (ulong)r.NextInt64(1, (long)cfg.UnitVm / 4);
        if (pick < 99) return cfg.UnitVm - (ulong)r.Next(0, 64);
        return cfg.UnitVm + (ulong)r.Next(1, 64);                                // too large
    }

    static ulong RandomAlign(Random r, Config cfg)
    {
        int pick = r.Next(100);
        if (pick < 2) return 0;
        if (pick < 4) return (ulong)(3 + 2 * r.Next(10));                        // not a power of two
        if (pick < 5) return cfg.Page * 2;
        int maxShift = (int)Math.Log2(cfg.Page);
        return pick < 60 ? 1ul << r.Next(0, 4) : 1ul << r.Next(0, maxShift + 1);
    }

    static ulong RandomBogusHandle(Random r, Model m)
    {
        int pick = r.Next(6);
        ulong span = m.Cfg.UnitVm * 4;
        switch (pick)
        {
            case 0: return (ulong)r.NextInt64(0, (long)span);                       // anything, often unaligned
            case 1: return (ulong)r.NextInt64(0, (long)span / 4) * 4;
            case 2: return m.Count > 0 ? m.RandomLive(r) + 4 * (ulong)r.Next(1, 8) : 4;
            case 3: return m.RandomStale(r);
            case 4: return (ulong)r.NextInt64(0, (long)m.A.ReservedStart + 1);
            default: return PerCpuLayout.UnitStride + (ulong)r.Next(0, 1000) * 4;
        }
    }

    static void Step(Random r, Model m, int targetLive, bool fullState)
    {
        int pick = r.Next(100);
        bool tooMany = m.Count > targetLive;
        if (pick < (tooMany ? 25 : 50))
            m.Allocate(RandomSize(r, m.Cfg), RandomAlign(r, m.Cfg), false, false, fullState);
        else if (pick < (tooMany ? 30 : 60))
            m.Allocate((ulong)r.Next(1, 257), 1ul << r.Next(0, 7), true, false, fullState);
        else if (pick < (tooMany ? 33 : 65))
            m.Allocate((ulong)r.Next(0, (int)Math.Max(8, m.Cfg.Reserved / 2)), 1ul << r.Next(0, 7), false, true, fullState);
        else if (pick < 92)
        {
            if (m.Count > 0) m.Free(m.RandomLive(r), fullState);
        }
        else if (pick < 96) m.Free(m.RandomStale(r), fullState);
        else m.Free(RandomBogusHandle(r, m), fullState);
    }

    static Config RandomConfig(Random r, double failRate)
    {
        ulong page = 1ul << r.Next(8, 13);                                        // 256 .. 4096
        ulong unit = page << r.Next(0, 5);                                        // 1 .. 16 pages
        ulong stat = (ulong)r.NextInt64(0, (long)unit / 2);
        ulong reserved = r.Next(3) == 0 ? 0 : (ulong)r.NextInt64(0, (long)(unit - stat) / 8) / 4 * 4;
        ulong minPinned = (stat + page - 1) / page;
        ulong pinned = minPinned + (ulong)r.Next(0, (int)(unit / page - minPinned) + 1);
        return new Config(unit, page, stat, reserved, pinned, failRate);
    }

    static void Run(Config cfg, int seed, int ops, int targetLive, int checkEvery, bool fullState, bool placement = true)
    {
        var m = new Model(cfg) { CheckPlacement = placement };
        if (cfg.FailRate > 0) { m.B.FailRandom = new Random(seed ^ 0x5EED); m.B.FailRate = cfg.FailRate; }
        var r = new Random(seed);
        m.CheckAll();
        for (int i = 0; i < ops; i++)
        {
            Step(r, m, targetLive, fullState);
            if ((i + 1) % checkEvery == 0) m.CheckAll(); else m.CheckCounters();
        }
        // Free everything: all the bytes come back, one empty chunk at most stays.
        m.B.FailRate = 0;
        while (m.Count > 0) m.Free(m.RandomLive(r), false);
        m.CheckAll();
        Assert.Equal(0ul, m.A.LiveBytes);
        Assert.True(m.A.Chunks <= 2);
        Assert.Equal(m.A.Chunk(0).High - m.A.Chunk(0).Low, m.A.Chunk(0).FreeBits);
    }

    // Random layouts (page 256..4096 bytes, unit 1..16 pages, static/reserved/pinned sizes)
    // and random operation sequences, every invariant after every operation.
    [Property(MaxTest = 40)]
    public Property RandomSequencesAgreeWithTheModel()
        => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
        {
            var r = new Random(seed);
            var cfg = RandomConfig(r, 0);
            try { Run(cfg, seed, 400, r.Next(5, 80), 1, true); }
            catch (Exception e) { throw new Exception($"seed={seed} {cfg}: {e.Message}", e); }
        });

    // The same with the backend running out of memory on 15% of populate calls: failed
    // calls change nothing, rollbacks leave no page mapped.
    [Property(MaxTest = 30)]
    public Property RandomSequencesWithOutOfMemoryAgreeWithTheModel()
        => Prop.ForAll(Arb.From(Gen.Choose(0, int.MaxValue)), seed =>
        {
            var r = new Random(seed);
            var cfg = RandomConfig(r, 0.15);
            try { Run(cfg, seed, 400, r.Next(5, 80), 1, true); }
            catch (Exception e) { throw new Exception($"seed={seed} {cfg}: {e.Message}", e); }
        });

    [Theory]
    [InlineData(1, 4096, 64 * 1024)]
    [InlineData(2, 256, 4096)]
    [InlineData(3, 1024, 1024 * 1024)]
    public void LongerSequencesOnFixedLayouts(int seed, ulong page, ulong unit)
    {
        var cfg = new Config(unit, page, unit / 7, unit / 16 / 4 * 4, (unit / 7 + page - 1) / page, 0);
        Run(cfg, seed, 5000, 300, 25, false);
    }

    // One long deterministic run: 1,000,000 operations on the default page size, a small
    // unit (so chunks come and go) and 1% of populate calls failing; cheap checks after
    // every operation, the full model comparison every 2,000.
    [Fact]
    public void OneMillionOperations()
    {
        var cfg = new Config(64 * 1024, 4096, 5000, 1024, 2, 0.01);
        Run(cfg, 20261123, 1_000_000, 400, 2000, false, placement: false);
    }
}
