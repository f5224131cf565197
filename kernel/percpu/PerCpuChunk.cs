// One chunk of the dynamic per-CPU allocator: where in a unit the areas are, as bitmaps
// with hints (Linux's mm/percpu.c since 4.14, "percpu: replace area map allocator with
// bitmap allocator"), for Percy's units of up to 16 GiB of virtual memory.
//
// Bits. One bit per 4-byte granule (PerCpuLayout.MinAllocSize) of the chunk's range:
//   alloc map  1 = the granule belongs to an area.
//   bound map  1 = an area started here. Live areas never contain a set bound bit past
//              their first granule, so an area ends at the first granule after its start
//              that is free or starts another area: Free needs no size. Unlike Linux,
//              Free leaves the bound bit of the freed area set (allocating over it clears
//              it again): a free granule with its bound bit set is where an area started
//              and was freed, so a second Free of that handle is told apart from a handle
//              that never was one. Linux also sets a bound bit at each area's end; the
//              "first free granule" rule makes that unnecessary.
//
// Hints, so that most operations read a few words and never scan the chunk:
//   per block (one page = pageSize/4 bits, 1024 for 4 KiB pages), PerCpuBlockHint:
//     Contig/ContigStart  the longest free run in the block (on a tie, the last one read:
//                         first-fit allocations land at the front, so they seldom break it)
//     Scan                no free run that ends before ContigStart is longer (Linux's
//                         scan_hint, kept as a bound): a request longer than Scan starts
//                         looking at ContigStart.
//     FirstFree           the first free bit (BlockBits if none)
//     LeftFree/RightFree  free bits touching the block's start / end: runs across blocks.
//   Hints are updated in O(1) plus a word scan inside the block, as Linux's
//   pcpu_block_update_hint_alloc/free do: a free merges its run with its neighbours and
//   compares it with Contig; an allocation only re-reads the block (every free run of its
//   16 words) when it takes from the Contig run itself. Blocks an area covers whole are
//   set full or free directly. A block is one page of the chunk, so a page is empty (no
//   live area touches it) exactly when its hint says Contig == BlockBits: that is the
//   per-page "live allocations" count the populate/depopulate rules need, for free.
//   per chunk: the same quantities over the whole chunk, in bits:
//     ContigBits/ContigStart, FirstFree, FreeBits, and Scan/ScanStart with a validity flag:
//     when valid, Scan is exactly the longest free run ending before ContigStart (0: none)
//     and ScanStart is one such run. An allocation that breaks the Contig run recomputes
//     from the known pieces (the Scan run, what is left of the Contig run, the runs after
//     it) and walks block hints only for the unknown part (block hints give each block's
//     longest run; the block where the new longest run lies is then read word by word
//     up to it, so Scan stays exact); a free merges its run with its
//     neighbours (the hints give the run ends in O(1) when it touches the Contig or Scan
//     run) and updates the hint as Linux's pcpu_block_update does. When the Scan run is
//     broken the flag drops and the next refresh walks block hints from FirstFree.
//   Finding a place (FindFit) is exact first fit at or after a position: the chunk hint
//   rejects chunks whose longest run is too short, and skips everything before
//   ContigStart when the request is longer than Scan; block hints skip blocks and carry
//   runs across block edges; only a block whose longest run is long enough is read word
//   by word. Exact first fit matters for the atomic path, which walks fits in order
//   until one lies on populated pages.
//
// Metadata for units of up to 16 GiB. The bitmaps cost 1/16 of the unit's virtual size
// (two bits per 4 bytes): 64 KiB for a 1 MiB unit, but 1 GiB for a 16 GiB one. They are
// therefore kept in segments of 64 blocks (16 KiB of bitmap and 64 hints for 256 KiB of
// unit with 4 KiB pages), allocated in order up to the highest block ever touched or
// populated: a chunk's metadata grows with what has been used of it (1/16 of that), and
// blocks past the last segment are known to be free without any memory. Segments are
// kept when the chunk object is recycled, so steady-state allocation allocates nothing;
// every populated page has its segment, so an atomic allocation (populated pages only)
// never allocates metadata. Only the populated-page bitmap (one bit per page) is sized
// for the whole unit up front.
//
// Clean memory. Every unit's copy of a page is zero when the page is populated (the
// backend maps zeroed pages; the first chunk's boot pages are zero past the static part),
// and alloc_percpu must hand out zeroed areas. Clearing an area in every unit costs more
// under TCG than the rest of a small allocation (one store per CPU, each to another
// unit's page), so each block (a page, in a chunk with pages) keeps a dirty mark: bits
// from DirtyEnd on have been in no area since the page was populated. An area entirely
// at or above the marks of its blocks is still zero everywhere and needs no clearing;
// the mark then moves past it. Populating a page resets its mark. The reserved chunk's
// answer is never used (its pages are the first chunk's, whose populate events it does
// not see): reserved areas are always cleared.
//
// Window. A chunk serves bits [Low, High) of its range. Bits below Low (the first chunk's
// static and reserved parts; the reserved chunk's start) and from High to the end (the
// reserved chunk's end) are marked as permanent areas, so they never look free and are
// never handed out or freed.
//
// Cost model. Percy is measured under QEMU's TCG, where a plain instruction costs a
// fraction of a nanosecond but a call and its return ~10 ns (the return is an indirect
// jump: a lookup of the next translated block), and every piece of code run for the
// first time is translated (~10 us a block). So the paths that allocation and free take
// every time are a few large methods (the small steps are inlined), with the common case
// first; rare cases stay out of line, where they cost nothing until they run.
//
// Pure logic: no hardware, no allocation on the hot path; compiled into the kernel and
// into the host tests.
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Percpu
{
    // Linux's struct pcpu_block_md for one block; positions in bits from the block start.
    public struct PerCpuBlockHint
    {
        public int Contig, ContigStart, FirstFree, LeftFree, RightFree, Scan;
    }

    // 64 blocks' bitmaps and hints (fewer in a chunk's last segment), and each block's
    // dirty mark (see PerCpuChunk, "Clean memory").
    internal sealed class PerCpuSegment
    {
        internal readonly ulong[] Alloc;
        internal readonly ulong[] Bound;
        internal readonly PerCpuBlockHint[] Hints;
        internal readonly int[] DirtyEnd;

        internal PerCpuSegment(int blocks, int blockWords, int blockBits)
        {
            Alloc = new ulong[blocks * blockWords];
            Bound = new ulong[blocks * blockWords];
            Hints = new PerCpuBlockHint[blocks];
            DirtyEnd = new int[blocks];
            for (int i = 0; i < blocks; i++) PerCpuChunk.SetFree(ref Hints[i], blockBits);
        }
    }

    public sealed class PerCpuChunk
    {
        public const int SegmentBlocksShift = 6;
        public const int SegmentBlocks = 1 << SegmentBlocksShift;
        const int WordBits = 64;
        const int WordShift = 6;
        const ulong None = ulong.MaxValue;

        readonly int _blockBits, _blockShift, _blockWordShift, _segBitShift;
        readonly ulong _segBitMask;
        readonly ulong _bits, _low, _high;
        readonly int _blocks;
        readonly PerCpuSegment[] _segs;
        int _segCount;
        readonly ulong[] _populated;          // one bit per page; null: this chunk has no pages of its own

        // The chunk hint (pcpu_chunk.chunk_md), in bits.
        ulong _contig, _contigStart, _firstFree, _freeBits, _scan, _scanStart;
        bool _scanValid;

        // The allocator's bookkeeping.
        internal int Index;
        internal ulong Base;                   // byte offset of bit 0 in every CPU's per-CPU range
        internal int Slot = -1;
        internal PerCpuChunk PrevInSlot, NextInSlot, NextSpare;
        internal ulong PopulatedPages, EmptyPopulatedPages, PinnedPages;
        internal ulong LiveAreas;

        // bits: a multiple of blockBits; [low, high): the bits this chunk hands out.
        // withPages: keep a populated bitmap (blocks are pages of this chunk's range).
        public PerCpuChunk(int blockBits, ulong bits, ulong low, ulong high, bool withPages)
        {
            _blockBits = blockBits;
            _blockShift = Log2((ulong)blockBits);
            _blockWordShift = _blockShift - WordShift;
            _segBitShift = _blockShift + SegmentBlocksShift;
            _segBitMask = (1ul << _segBitShift) - 1;
            _bits = bits;
            _low = low;
            _high = high;
            _blocks = (int)(bits >> _blockShift);
            _segs = new PerCpuSegment[(_blocks + SegmentBlocks - 1) >> SegmentBlocksShift];
            if (withPages) _populated = new ulong[(_blocks + WordBits - 1) >> WordShift];
            // Blocks past the last segment are taken as free, so the permanent end area
            // needs every segment; the permanent start needs the segments it covers. A
            // chunk without pages of its own (the reserved part, small) gets them all now.
            EnsureSegments(high < bits || !withPages ? bits : low);
            Reset();
        }

        public ulong Bits => _bits;
        public ulong Low => _low;
        public ulong High => _high;
        public int Blocks => _blocks;
        public int BlockBits => _blockBits;
        public ulong FreeBits => _freeBits;
        public ulong ContigBits => _contig;
        public ulong ContigStart => _contigStart;
        public ulong FirstFree => _firstFree;
        public bool IsEmpty => _freeBits == _high - _low;
        public int SegmentCount => _segCount;

        // Back to "nothing allocated, nothing populated" (a recycled chunk object); keeps
        // the segments. Marks the permanent areas outside [Low, High).
        internal void Reset()
        {
            for (int s = 0; s < _segCount; s++)
            {
                var seg = _segs[s];
                for (int i = 0; i < seg.Alloc.Length; i++) { seg.Alloc[i] = 0; seg.Bound[i] = 0; }
                for (int i = 0; i < seg.Hints.Length; i++) { SetFree(ref seg.Hints[i], _blockBits); seg.DirtyEnd[i] = 0; }
            }
            if (_populated != null) for (int i = 0; i < _populated.Length; i++) _populated[i] = 0;
            PopulatedPages = EmptyPopulatedPages = PinnedPages = LiveAreas = 0;
            if (_low > 0) MarkPermanent(0, _low);
            if (_high < _bits) MarkPermanent(_high, _bits);
            _freeBits = _high - _low;
            _contig = _high - _low;
            _contigStart = _low;
            _firstFree = _contig > 0 ? _low : _high;
            _scan = 0;
            _scanStart = 0;
            _scanValid = true;                 // no free run before the only one
        }

        void MarkPermanent(ulong start, ulong end)
        {
            MarkArea(_segs[(int)(start >> _segBitShift)], start, end);
            AllocBlocks(start, end);                       // (no page was populated yet)
        }

        // ---- segments ----------------------------------------------------------------

        // Makes sure the segments covering bits [0, bitEnd) exist. Allocates (only when the
        // chunk's used span grows past what this object ever had).
        internal void EnsureSegments(ulong bitEnd)
        {
            if (bitEnd > _bits) bitEnd = _bits;
            int need = (int)((bitEnd + _segBitMask) >> _segBitShift);
            while (_segCount < need)
            {
                int first = _segCount << SegmentBlocksShift;
                int blocks = _blocks - first < SegmentBlocks ? _blocks - first : SegmentBlocks;
                _segs[_segCount] = new PerCpuSegment(blocks, 1 << _blockWordShift, _blockBits);
                _segCount++;
            }
        }

        ref PerCpuBlockHint Hint(int block) => ref _segs[block >> SegmentBlocksShift].Hints[block & (SegmentBlocks - 1)];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        PerCpuSegment SegmentOf(int block) => _segs[block >> SegmentBlocksShift];

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool BlockEmpty(int block)
            => (block >> SegmentBlocksShift) >= _segCount || Hint(block).Contig == _blockBits;

        internal static void SetFree(ref PerCpuBlockHint h, int blockBits)
        {
            h.Contig = blockBits; h.ContigStart = 0; h.FirstFree = 0;
            h.LeftFree = blockBits; h.RightFree = blockBits; h.Scan = 0;
        }

        static void SetFull(ref PerCpuBlockHint h, int blockBits)
        {
            h.Contig = 0; h.ContigStart = 0; h.FirstFree = blockBits;
            h.LeftFree = 0; h.RightFree = 0; h.Scan = 0;
        }

        // ---- bit access (bits past the last segment read as 0) --------------------------

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool IsAllocated(ulong bit)
        {
            if (bit >= _bits) return false;
            int s = (int)(bit >> _segBitShift);
            if (s >= _segCount) return false;
            int off = (int)(bit & _segBitMask);
            return (_segs[s].Alloc[off >> WordShift] & (1ul << (off & (WordBits - 1)))) != 0;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool IsBoundary(ulong bit)
        {
            if (bit >= _bits) return false;
            int s = (int)(bit >> _segBitShift);
            if (s >= _segCount) return false;
            int off = (int)(bit & _segBitMask);
            return (_segs[s].Bound[off >> WordShift] & (1ul << (off & (WordBits - 1)))) != 0;
        }

        // Bits [b, b + n) of a word, 1 <= n <= 64 - b.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static ulong WordMask(int b, int n) => (~0ul >> (WordBits - n)) << b;

        // The bitmaps of a new area [start, end): alloc bits set, its bound bit set and the
        // bound bits after it cleared (stale markers of freed areas). An area inside one
        // word, the common case, is one read-modify-write per map. seg: start's segment.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void MarkArea(PerCpuSegment seg, ulong start, ulong end)
        {
            if (((start ^ (end - 1)) >> WordShift) == 0)
            {
                int wi = (int)((start & _segBitMask) >> WordShift), b = (int)(start & (WordBits - 1));
                ulong mask = WordMask(b, (int)(end - start));
                seg.Alloc[wi] |= mask;
                seg.Bound[wi] = (seg.Bound[wi] & ~mask) | (1ul << b);
                return;
            }
            SetRange(true, start, end, true);
            SetRange(false, start + 1, end, false);
            SetRange(false, start, start + 1, true);
        }

        // Sets or clears bits [start, end) of the alloc (alloc=true) or bound map.
        void SetRange(bool alloc, ulong start, ulong end, bool value)
        {
            while (start < end)
            {
                var seg = _segs[(int)(start >> _segBitShift)];
                int off = (int)(start & _segBitMask);
                int b0 = off & (WordBits - 1);
                ulong n = end - start;
                if (n > (ulong)(WordBits - b0)) n = (ulong)(WordBits - b0);
                ulong mask = WordMask(b0, (int)n);
                ulong[] a = alloc ? seg.Alloc : seg.Bound;
                if (value) a[off >> WordShift] |= mask; else a[off >> WordShift] &= ~mask;
                start += n;
            }
        }

        const int FindOne = 0, FindZero = 1, FindEnd = 2;

        // The first bit in [pos, limit) that is allocated (FindOne), free (FindZero), or
        // free or an area start (FindEnd); limit if none. Word by word.
        ulong Next(ulong pos, ulong limit, int kind)
        {
            while (pos < limit)
            {
                int s = (int)(pos >> _segBitShift);
                if (s >= _segCount) return kind == FindOne ? limit : pos;
                var seg = _segs[s];
                int off = (int)(pos & _segBitMask);
                int wi = off >> WordShift;
                ulong w = kind == FindOne ? seg.Alloc[wi]
                        : kind == FindZero ? ~seg.Alloc[wi]
                        : seg.Bound[wi] | ~seg.Alloc[wi];
                w &= ~0ul << (off & (WordBits - 1));
                if (w != 0)
                {
                    ulong r = (pos & ~(ulong)(WordBits - 1)) + (ulong)TrailingZeros(w);
                    return r < limit ? r : limit;
                }
                pos = (pos | (WordBits - 1)) + 1;
            }
            return limit;
        }

        // ---- block hints ------------------------------------------------------------------

        // A block's hint from its bitmap words: every free run from `from` on, O(runs). The
        // bits before `from` must be allocated (from = the block's old FirstFree after an
        // allocation, as Linux's pcpu_block_refresh_hint starts at first_free).
        void ComputeHint(ulong[] alloc, int wbase, int from, out PerCpuBlockHint h)
        {
            int contig = 0, contigStart = 0, scan = 0, first = _blockBits, left = 0, right = 0;
            int pos = from;
            while (pos < _blockBits)
            {
                int z = NextInBlock(alloc, wbase, pos, _blockBits, true);
                if (z >= _blockBits) break;
                int o = NextInBlock(alloc, wbase, z, _blockBits, false);
                int len = o - z;
                if (first == _blockBits) first = z;
                if (z == 0) left = len;
                if (o == _blockBits) right = len;
                if (len >= contig)
                {
                    if (contig > scan) scan = contig;            // the old longest is before the new one
                    contig = len; contigStart = z;
                }
                pos = o;
            }
            h.Contig = contig; h.ContigStart = contigStart; h.FirstFree = first;
            h.LeftFree = left; h.RightFree = right; h.Scan = scan;
        }

        // Block hints after bits [start, end) were allocated (bitmaps already updated): the
        // edge blocks incrementally, the inner ones set full. Returns how many of the
        // blocks were empty before (pages that no longer count as empty).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        ulong AllocBlocks(ulong start, ulong end)
        {
            int b0 = (int)(start >> _blockShift), b1 = (int)((end - 1) >> _blockShift);
            int s0 = (int)(start - ((ulong)b0 << _blockShift));
            int e1 = (int)(end - ((ulong)b1 << _blockShift));
            ulong wereEmpty = BlockAllocated(SegmentOf(b0), b0 & (SegmentBlocks - 1), s0, b0 == b1 ? e1 : _blockBits);
            if (b0 == b1) return wereEmpty;
            for (int b = b0 + 1; b < b1; b++) SetFull(ref Hint(b), _blockBits);
            return wereEmpty + (ulong)(b1 - b0 - 1) + BlockAllocated(SegmentOf(b1), b1 & (SegmentBlocks - 1), 0, e1);
        }

        // Block hints after bits [start, end) were freed (alloc bits already cleared), and
        // the free run the area joined as far as its edge blocks show: [runStart, runEnd).
        // A run that reaches the first block's start or the last block's end may go on.
        // Returns how many of the blocks are empty now.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        ulong FreeBlocks(ulong start, ulong end, out ulong runStart, out ulong runEnd)
        {
            int b0 = (int)(start >> _blockShift), b1 = (int)((end - 1) >> _blockShift);
            ulong bs0 = (ulong)b0 << _blockShift, bs1 = (ulong)b1 << _blockShift;
            int s0 = (int)(start - bs0), e1 = (int)(end - bs1), ms, me;
            ulong empty = BlockFreed(SegmentOf(b0), b0 & (SegmentBlocks - 1), s0, b0 == b1 ? e1 : _blockBits, out ms, out me);
            if (b0 != b1)
            {
                for (int b = b0 + 1; b < b1; b++) SetFree(ref Hint(b), _blockBits);
                empty += (ulong)(b1 - b0 - 1) + BlockFreed(SegmentOf(b1), b1 & (SegmentBlocks - 1), 0, e1, out _, out me);
            }
            runStart = bs0 + (ulong)ms;
            runEnd = bs1 + (ulong)me;
            return empty;
        }

        // Bits [s, e) of block bi of seg (block positions), inside one free run, were
        // allocated. 1 if the block was empty before, else 0.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        ulong BlockAllocated(PerCpuSegment seg, int bi, int s, int e)
        {
            ref var h = ref seg.Hints[bi];
            ulong wasEmpty = h.Contig == _blockBits ? 1ul : 0ul;
            int contigEnd = h.ContigStart + h.Contig;
            if ((s < contigEnd) & (e > h.ContigStart))
            {
                int rest = contigEnd - e;
                if ((s == h.ContigStart) & (contigEnd == _blockBits) & (rest >= h.Scan))
                {
                    // The front of the block's last run, the longest: what is left of it is
                    // still the longest (Scan bounds every run before it). A sequence of
                    // small allocations takes this path, never reading the bitmap.
                    int firstFree = h.FirstFree, next = rest > 0 ? e : _blockBits;
                    h.FirstFree = s == firstFree ? next : firstFree;
                    h.LeftFree = s == 0 ? 0 : h.LeftFree;
                    h.RightFree = rest;
                    h.Contig = rest;
                    h.ContigStart = rest > 0 ? e : 0;
                    return wasEmpty;
                }
                // Otherwise the longest run is not known: re-read the block.
                ComputeHint(seg.Alloc, bi << _blockWordShift, h.FirstFree, out h);
                return wasEmpty;
            }
            if (s == h.FirstFree) h.FirstFree = NextInBlock(seg.Alloc, bi << _blockWordShift, e, _blockBits, true);
            if (s < h.LeftFree) h.LeftFree = s;
            if (e > _blockBits - h.RightFree) h.RightFree = _blockBits - e;
            return wasEmpty;                                 // runs only shrank: Scan still bounds them
        }

        // Bits [s, e) of block bi of seg (block positions), one area, were freed; [ms, me): the
        // free run they joined inside the block. The hints give the run's ends when it
        // meets the block's edges or its longest run; otherwise the neighbouring bits do.
        // 1 if the block is empty now, else 0.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        ulong BlockFreed(PerCpuSegment seg, int bi, int s, int e, out int ms, out int me)
        {
            int wbase = bi << _blockWordShift;
            ref var h = ref seg.Hints[bi];
            if (s == h.LeftFree) ms = 0;
            else if ((h.Contig > 0) & (s == h.ContigStart + h.Contig)) ms = h.ContigStart;
            else ms = PrevOneInBlock(seg.Alloc, wbase, s);
            if (e == _blockBits - h.RightFree) me = _blockBits;
            else if ((h.Contig > 0) & (e == h.ContigStart)) me = h.ContigStart + h.Contig;
            else me = NextInBlock(seg.Alloc, wbase, e, _blockBits, false);
            int len = me - ms, contig = h.Contig, contigStart = h.ContigStart, scan = h.Scan;
            h.FirstFree = ms < h.FirstFree ? ms : h.FirstFree;
            h.LeftFree = ms == 0 ? me : h.LeftFree;
            h.RightFree = me == _blockBits ? _blockBits - ms : h.RightFree;
            if ((len > contig) | ((len == contig) & (ms > contigStart)))
            {
                h.Scan = (ms > contigStart) & (contig > scan) ? contig : scan;   // the old longest is before it now
                h.Contig = len;
                h.ContigStart = ms;
            }
            else h.Scan = (ms < contigStart) & (len > scan) ? len : scan;
            return len == _blockBits ? 1ul : 0ul;
        }

        // The end of the free run that reaches block b's start (the bits just before it are
        // free): the first allocated bit from there, by block hints; High if none.
        ulong RunEndFrom(int b)
        {
            for (; b < _blocks; b++)
            {
                if ((b >> SegmentBlocksShift) >= _segCount) return _high;
                ref var h = ref Hint(b);
                if (h.Contig != _blockBits) return ((ulong)b << _blockShift) + (ulong)h.LeftFree;
            }
            return _high;
        }

        // The start of the free run that reaches block b's start from below (block b's
        // first bit is free): one past the last allocated bit before it, by block hints.
        ulong RunStartBefore(int b)
        {
            for (b--; b >= 0; b--)
            {
                if ((b >> SegmentBlocksShift) >= _segCount) continue;
                ref var h = ref Hint(b);
                if (h.Contig != _blockBits) return (((ulong)b + 1) << _blockShift) - (ulong)h.RightFree;
            }
            return 0;
        }

        // The first free bit at or after pos, or High.
        ulong NextFree(ulong pos)
        {
            if (pos >= _high) return _high;
            int b = (int)(pos >> _blockShift);
            ulong be = ((ulong)b + 1) << _blockShift;
            ulong r = Next(pos, be, FindZero);
            if (r < be) return r < _high ? r : _high;
            for (b++; b < _blocks; b++)
            {
                ulong bs = (ulong)b << _blockShift;
                if ((b >> SegmentBlocksShift) >= _segCount) return bs < _high ? bs : _high;
                ref var h = ref Hint(b);
                if (h.FirstFree < _blockBits) { ulong f = bs + (ulong)h.FirstFree; return f < _high ? f : _high; }
            }
            return _high;
        }

        // Longest run and the longest run before it, fed runs in ascending order. A block
        // hint gives only the block's longest run (Block: that block): the runs before it
        // inside the block are added by FinishScan.
        struct RunAccumulator
        {
            public ulong Contig, ContigStart, Scan, ScanStart;
            public int Block;
            public void Add(ulong start, ulong len, int block = -1)
            {
                if (len > Contig)
                {
                    Scan = Contig; ScanStart = ContigStart;
                    Contig = len; ContigStart = start;
                    Block = block;
                }
            }
        }

        // Makes acc.Scan exact when the longest run came from a block hint: reads that
        // block's runs in front of it (the run touching the block start was fed whole).
        void FinishScan(ref RunAccumulator acc)
        {
            if (acc.Contig == 0 || acc.Block < 0) return;
            var seg = _segs[acc.Block >> SegmentBlocksShift];
            int wbase = (acc.Block & (SegmentBlocks - 1)) << _blockWordShift;
            ulong bs = (ulong)acc.Block << _blockShift;
            int limit = (int)(acc.ContigStart - bs);
            int pos = NextInBlock(seg.Alloc, wbase, 0, limit, false);     // past the run at the block start
            while (pos < limit)
            {
                int z = NextInBlock(seg.Alloc, wbase, pos, limit, true);
                if (z >= limit) break;
                int o = NextInBlock(seg.Alloc, wbase, z, limit, false);
                if ((ulong)(o - z) > acc.Scan) { acc.Scan = (ulong)(o - z); acc.ScanStart = bs + (ulong)z; }
                pos = o;
            }
            acc.Block = -1;
        }

        // Feeds acc every maximal free run inside [from, to), ascending. `from` and `to`
        // must be run boundaries (from: a run start or allocated; to-1 allocated or to = High).
        void FeedRuns(ulong from, ulong to, ref RunAccumulator acc)
        {
            ulong carry = None;
            int carryBlock = -1;                   // the block whose right run began the carry (its inner runs were not fed)
            ulong pos = from;
            while (pos < to)
            {
                int b = (int)(pos >> _blockShift);
                ulong bs = (ulong)b << _blockShift, be = bs + (ulong)_blockBits;
                if ((b >> SegmentBlocksShift) >= _segCount)
                {
                    if (carry == None) { carry = pos; carryBlock = -1; }
                    pos = to;
                    break;
                }
                if (pos == bs && be <= to)
                {
                    ref var h = ref Hint(b);
                    if (h.Contig == _blockBits) { if (carry == None) { carry = bs; carryBlock = -1; } pos = be; continue; }
                    if (carry != None) { acc.Add(carry, bs + (ulong)h.LeftFree - carry, carryBlock); carry = None; }
                    else if (h.LeftFree > 0) acc.Add(bs, (ulong)h.LeftFree);
                    if (h.Contig > 0 && h.ContigStart > 0 && h.ContigStart + h.Contig < _blockBits)
                        acc.Add(bs + (ulong)h.ContigStart, (ulong)h.Contig, b);
                    if (h.RightFree > 0) { carry = be - (ulong)h.RightFree; carryBlock = b; }
                    pos = be;
                    continue;
                }
                // A partial block: read its words.
                ulong end = be < to ? be : to;
                while (pos < end)
                {
                    ulong z = Next(pos, end, FindZero);
                    if (z > pos && carry != None) { acc.Add(carry, pos - carry, carryBlock); carry = None; }
                    if (z >= end) { pos = end; break; }
                    ulong o = Next(z, end, FindOne);
                    if (carry == None) { carry = z; carryBlock = -1; }
                    if (o < end) { acc.Add(carry, o - carry, carryBlock); carry = None; }
                    pos = o;
                }
            }
            if (carry != None) acc.Add(carry, to - carry, carryBlock);
        }

        // ---- allocation -------------------------------------------------------------------

        static ulong AlignUp(ulong x, ulong align) => (x + align - 1) & ~(align - 1);

        // The first bit f >= from such that [f, f + bits) is free, inside [Low, High) and
        // f is a multiple of alignBits (a power of two, at most BlockBits).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool FindFit(ulong from, ulong bits, ulong alignBits, out ulong fit)
        {
            fit = 0;
            if (bits - 1 >= _contig) return false;          // bits == 0 or longer than the longest run
            from = from < _firstFree ? _firstFree : from;
            if (_scanValid & (bits > _scan) & (from <= _contigStart))
            {
                // No run before the Contig run is long enough, so the first fit is the
                // first aligned place in it, if the request fits there. O(1): the common
                // case of a chunk filling from its front.
                ulong a = AlignUp(_contigStart, alignBits);
                if (a + bits <= _contigStart + _contig) { fit = a; return true; }
                from = _contigStart;
            }
            return FindFitByBlocks(from, bits, alignBits, out fit);
        }

        // FindFit's walk over the block hints from `from` (at or after FirstFree).
        bool FindFitByBlocks(ulong from, ulong bits, ulong alignBits, out ulong fit)
        {
            fit = 0;
            if (from >= _high) return false;
            ulong carry = None;
            int untouchedBlock = _segCount << SegmentBlocksShift;
            for (int b = (int)(from >> _blockShift); b < _blocks; b++)
            {
                ulong bs = (ulong)b << _blockShift;
                if (b >= untouchedBlock)
                {
                    ulong st = carry != None ? carry : (from > bs ? from : bs);
                    ulong a = AlignUp(st, alignBits);
                    if (a + bits <= _high) { fit = a; return true; }
                    return false;
                }
                var seg = _segs[b >> SegmentBlocksShift];
                ref var h = ref seg.Hints[b & (SegmentBlocks - 1)];
                if (carry != None)
                {
                    ulong a = AlignUp(carry, alignBits);
                    if (a + bits <= bs + (ulong)h.LeftFree) { fit = a; return true; }
                    if (h.Contig == _blockBits) continue;
                    carry = None;
                }
                int lo = from > bs ? (int)(from - bs) : 0;
                if ((ulong)h.Contig >= bits)
                {
                    int start = bits > (ulong)h.Scan ? h.ContigStart : h.FirstFree;
                    if (start < lo) start = lo;
                    int f = FirstFitInBlock(seg.Alloc, (b & (SegmentBlocks - 1)) << _blockWordShift, start, (int)bits, (int)alignBits);
                    if (f >= 0) { fit = bs + (ulong)f; return true; }
                }
                if (h.RightFree > 0)
                {
                    ulong rs = bs + (ulong)(_blockBits - h.RightFree);
                    carry = rs > from ? rs : from;
                }
            }
            if (carry != None)
            {
                ulong a = AlignUp(carry, alignBits);
                if (a + bits <= _high) { fit = a; return true; }
            }
            return false;
        }

        // First aligned run of `bits` free bits inside one block at or after `from`; -1 if none.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        int FirstFitInBlock(ulong[] alloc, int wbase, int from, int bits, int alignBits)
        {
            int p = from;
            while (true)
            {
                p = NextInBlock(alloc, wbase, p, _blockBits, true);
                if (p >= _blockBits) return -1;
                p = (p + alignBits - 1) & ~(alignBits - 1);
                if (p + bits > _blockBits) return -1;
                int o = NextInBlock(alloc, wbase, p, p + bits, false);
                if (o >= p + bits) return p;
                p = o + 1;
            }
        }

        // One past the last allocated bit before `pos` in a block's words; 0 if none.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int PrevOneInBlock(ulong[] alloc, int wbase, int pos)
        {
            while (pos > 0)
            {
                int q = pos - 1;
                ulong w = alloc[wbase + (q >> WordShift)];
                int b = q & (WordBits - 1);
                if (b != WordBits - 1) w &= (1ul << (b + 1)) - 1;
                if (w != 0) return (q & ~(WordBits - 1)) + HighestBit(w) + 1;
                pos = q & ~(WordBits - 1);
            }
            return 0;
        }

        // First zero (zero=true) or one bit in [pos, limit) of a block's words; limit if none.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int NextInBlock(ulong[] alloc, int wbase, int pos, int limit, bool zero)
        {
            while (pos < limit)
            {
                ulong w = alloc[wbase + (pos >> WordShift)];
                if (zero) w = ~w;
                w &= ~0ul << (pos & (WordBits - 1));
                if (w != 0)
                {
                    int r = (pos & ~(WordBits - 1)) + TrailingZeros(w);
                    return r < limit ? r : limit;
                }
                pos = (pos | (WordBits - 1)) + 1;
            }
            return limit;
        }

        // Marks [start, start + bits) as one area (the caller found it with FindFit and
        // made sure the segments exist). True if the area is clean: still zero in every
        // unit, no clearing needed.
        // wereEmpty: how many of its blocks were empty before (empty populated pages it takes).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal bool AllocateArea(ulong start, ulong bits, out ulong wereEmpty)
        {
            ulong end = start + bits;
            int b0 = (int)(start >> _blockShift), b1 = (int)((end - 1) >> _blockShift);
            var seg = SegmentOf(b0);
            MarkArea(seg, start, end);
            bool clean;
            if (b0 == b1)
            {
                int bi = b0 & (SegmentBlocks - 1), s0 = (int)(start - ((ulong)b0 << _blockShift)), e0 = s0 + (int)bits;
                wereEmpty = BlockAllocated(seg, bi, s0, e0);
                clean = TakeClean(ref seg.DirtyEnd[bi], s0, e0);
            }
            else
            {
                wereEmpty = AllocBlocks(start, end);
                clean = TakeClean(start, end);
            }
            _freeBits -= bits;
            LiveAreas++;

            if ((_scan > 0) & (start < _scanStart + _scan) & (end > _scanStart)) _scanValid = false;   // the Scan run is broken
            bool front = start == _contigStart;            // the area takes the front of the Contig run
            if (start == _firstFree) _firstFree = front & (_contig > bits) ? end : NextFree(end);
            if ((start < _contigStart + _contig) & (end > _contigStart))
            {
                if (front & (_contigStart + _contig == _high) & _scanValid & (_contig - bits >= _scan))
                {
                    // The front of the chunk's last run, the longest: what is left is still
                    // the longest (Scan is exact for the runs before it, and there are none
                    // after it). Sequences of allocations in a fresh chunk take this path.
                    _contig -= bits;
                    _contigStart = _contig > 0 ? end : _high;
                }
                else RefreshAfterBreak(start, end);
            }
            return clean;
        }

        // Whether [start, end) lies at or above its blocks' dirty marks, and moves the marks
        // past it.
        bool TakeClean(ulong start, ulong end)
        {
            int b0 = (int)(start >> _blockShift), b1 = (int)((end - 1) >> _blockShift);
            bool clean = true;
            for (int b = b0; b <= b1; b++)
            {
                int s = b == b0 ? (int)(start - ((ulong)b << _blockShift)) : 0;
                int e = b == b1 ? (int)(end - ((ulong)b << _blockShift)) : _blockBits;
                clean &= TakeClean(ref SegmentOf(b).DirtyEnd[b & (SegmentBlocks - 1)], s, e);
            }
            return clean;
        }

        // The same for one block: bits [s, e) of it, `mark` its dirty mark.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static bool TakeClean(ref int mark, int s, int e)
        {
            int old = mark;
            mark = e > old ? e : old;
            return s >= old;
        }

        // The Contig run [cs, ce) lost [start, end): find the new longest run and Scan.
        void RefreshAfterBreak(ulong start, ulong end)
        {
            ulong cs = _contigStart, ce = _contigStart + _contig;
            var acc = new RunAccumulator();
            acc.Block = -1;
            bool repFirst = _scanValid;
            ulong repStart = _scanStart;
            if (_scanValid) { if (_scan > 0) acc.Add(_scanStart, _scan); }
            else if (_firstFree < cs) FeedRuns(_firstFree, cs, ref acc);
            if (start > cs) acc.Add(cs, start - cs);
            if (ce > end) acc.Add(end, ce - end);
            if (ce < _high) FeedRuns(ce, _high, ref acc);
            FinishScan(ref acc);
            _contig = acc.Contig;
            _contigStart = acc.Contig > 0 ? acc.ContigStart : _high;
            if (repFirst && _scan > 0 && acc.Contig > 0 && acc.ContigStart == repStart)
            {
                // The old Scan run is the longest now; what lies before it is not known.
                _scanValid = false;
            }
            else
            {
                _scan = acc.Scan; _scanStart = acc.ScanStart; _scanValid = true;
            }
        }

        // ---- free ---------------------------------------------------------------------------

        public const string ErrNotAStart = "handle is inside an allocation, not at its start";
        public const string ErrDoubleFree = "double free: the allocation at this handle was already freed";
        public const string ErrNoArea = "no allocation starts at this handle";

        // Why `bit` cannot be freed, or null.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public string CheckFree(ulong bit) => ReadStart(bit, out _, out _, out _, out _);

        // Reads the alloc and bound words holding `bit` (its segment and word index too) and
        // says why no live area starts there, or null.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        string ReadStart(ulong bit, out PerCpuSegment seg, out int wi, out ulong alloc, out ulong bound)
        {
            seg = null;
            wi = 0;
            alloc = bound = 0;
            int s = (int)(bit >> _segBitShift);
            if ((bit < _low) | (bit >= _high) | (s >= _segCount)) return ErrNoArea;
            seg = _segs[s];
            wi = (int)((bit & _segBitMask) >> WordShift);
            alloc = seg.Alloc[wi];
            bound = seg.Bound[wi];
            ulong m = 1ul << (int)(bit & (WordBits - 1));
            if ((alloc & bound & m) != 0) return null;
            return (alloc & m) != 0 ? ErrNotAStart : (bound & m) != 0 ? ErrDoubleFree : ErrNoArea;
        }

        // The length in bits of the live area starting at `bit` (CheckFree said yes).
        public ulong AreaBits(ulong bit)
        {
            ReadStart(bit, out _, out _, out ulong alloc, out ulong bound);
            return AreaEnd(bit, alloc, bound) - bit;
        }

        // One past the live area that starts at `bit`: the first granule after it that is
        // free or starts another area. Mostly inside bit's own word (alloc, bound).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        ulong AreaEnd(ulong bit, ulong alloc, ulong bound)
        {
            ulong w = (bound | ~alloc) & ((~0ul << (int)(bit & (WordBits - 1))) << 1);
            if (w != 0) return (bit & ~(ulong)(WordBits - 1)) + (ulong)TrailingZeros(w);
            return Next((bit | (WordBits - 1)) + 1, _bits, FindEnd);
        }

        // free_percpu's part in the chunk: frees the live area that starts at `bit`. Null,
        // its length in bits and how many of its blocks it left empty (pages that now count
        // as empty); or why not, and nothing changes.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal string FreeArea(ulong bit, out ulong bits, out ulong emptied)
        {
            bits = emptied = 0;
            string error = ReadStart(bit, out PerCpuSegment seg, out int wi, out ulong alloc, out ulong bound);
            if (error != null) return error;
            ulong end = AreaEnd(bit, alloc, bound);
            bits = end - bit;
            // Clear its alloc bits; the bound bit at `bit` stays: the freed-area marker.
            if (((bit ^ (end - 1)) >> WordShift) == 0) seg.Alloc[wi] = alloc & ~WordMask((int)(bit & (WordBits - 1)), (int)bits);
            else SetRange(true, bit, end, false);
            emptied = FreeBlocks(bit, end, out ulong fs, out ulong fe);
            _freeBits += bits;
            LiveAreas--;

            // The free run the area joins: as the edge blocks found it, unless it reaches
            // past them; then the chunk hints (the run it joins is the Contig or Scan run)
            // or the hints of the blocks beyond say where it ends.
            ulong blockMask = (ulong)_blockBits - 1;
            bool scanRun = _scanValid & (_scan > 0);
            if (((fs & blockMask) == 0) & (fs > 0))
            {
                if ((_contig > 0) & (bit == _contigStart + _contig)) fs = _contigStart;
                else if (scanRun & (bit == _scanStart + _scan)) fs = _scanStart;
                else fs = RunStartBefore((int)(fs >> _blockShift));
            }
            if ((fe & blockMask) == 0)
            {
                if ((_contig > 0) & (end == _contigStart)) fe = _contigStart + _contig;
                else if (scanRun & (end == _scanStart)) fe = _scanStart + _scan;
                else fe = RunEndFrom((int)(fe >> _blockShift));
            }
            fs = fs < _low ? _low : fs;
            fe = fe > _high ? _high : fe;
            ulong len = fe - fs;

            if (len > _contig)
            {
                if ((_contig == 0) | (fs > _contigStart))
                {
                    _scan = _contig; _scanStart = _contigStart; _scanValid = true;
                }
                else if (scanRun & (_scanStart >= fs)) _scanValid = false;   // the Scan run merged in
                _contig = len; _contigStart = fs;
            }
            else if (len == _contig)
            {
                if (fs < _contigStart) { _scan = len; _scanStart = fs; _scanValid = true; }
            }
            else if ((fs < _contigStart) & _scanValid)
            {
                if ((scanRun & (_scanStart >= fs) & (_scanStart < fe)) | (len > _scan)) { _scan = len; _scanStart = fs; }
            }
            _firstFree = fs < _firstFree ? fs : _firstFree;
            return null;
        }

        // ---- pages (blocks are pages in a chunk with its own range) ------------------------

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool IsPopulated(ulong page) => (_populated[(int)(page >> WordShift)] & (1ul << (int)(page & (WordBits - 1)))) != 0;

        // Populating a page (its segment exists) also makes it clean: new pages are zero.
        internal void SetPopulated(ulong page, bool value)
        {
            ulong m = 1ul << (int)(page & (WordBits - 1));
            if (!value) { _populated[(int)(page >> WordShift)] &= ~m; return; }
            _populated[(int)(page >> WordShift)] |= m;
            _segs[(int)(page >> SegmentBlocksShift)].DirtyEnd[(int)page & (SegmentBlocks - 1)] = 0;
        }

        // Whether every page of [p0, p1) is populated (mostly one page: one bit test).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool Populated(ulong p0, ulong p1)
            => p1 == p0 + 1 ? IsPopulated(p0) : NextPage(p0, p1, false) >= p1;

        // The first page in [page, limit) that is populated (want=true) or not; limit if none.
        public ulong NextPage(ulong page, ulong limit, bool want)
        {
            while (page < limit)
            {
                ulong w = _populated[(int)(page >> WordShift)];
                if (!want) w = ~w;
                w &= ~0ul << (int)(page & (WordBits - 1));
                if (w != 0)
                {
                    ulong r = (page & ~(ulong)(WordBits - 1)) + (ulong)TrailingZeros(w);
                    return r < limit ? r : limit;
                }
                page = (page | (WordBits - 1)) + 1;
            }
            return limit;
        }

        // ---- checking (host tests and the kernel self-test; reads every bit) ----------------

        // Null if every hint agrees with the bitmaps, else what is wrong.
        public string Check()
        {
            for (int b = 0; b < _blocks && (b >> SegmentBlocksShift) < _segCount; b++)
            {
                var seg = _segs[b >> SegmentBlocksShift];
                int wbase = (b & (SegmentBlocks - 1)) << _blockWordShift;
                var h = seg.Hints[b & (SegmentBlocks - 1)];
                ComputeHint(seg.Alloc, wbase, 0, out var exact);
                if (h.Contig != exact.Contig || h.FirstFree != exact.FirstFree || h.LeftFree != exact.LeftFree || h.RightFree != exact.RightFree)
                    return "block hint disagrees with the bitmap";
                if (h.Contig > 0)
                {
                    int cs = h.ContigStart;
                    if (NextInBlock(seg.Alloc, wbase, cs, cs + h.Contig, false) != cs + h.Contig
                        || (cs > 0 && NextInBlock(seg.Alloc, wbase, cs - 1, cs, false) != cs - 1))
                        return "block contig start is not a free run of that length";
                }
                // Scan must bound every run that ends before ContigStart.
                int run = 0, longestBefore = 0;
                while (run < h.ContigStart)
                {
                    int z = NextInBlock(seg.Alloc, wbase, run, h.ContigStart, true);
                    if (z >= h.ContigStart) break;
                    int o = NextInBlock(seg.Alloc, wbase, z, h.ContigStart, false);
                    if (o - z > longestBefore) longestBefore = o - z;
                    run = o;
                }
                if (h.Contig > 0 && longestBefore > h.Scan) return "block scan hint does not bound the runs before the contig run";
                if (h.Scan > h.Contig) return "block scan hint exceeds the contig hint";
            }
            // Runs in [Low, High), straight from the bits.
            ulong free = 0, longest = 0, longestStart = 0, first = _high, before = 0;
            ulong pos = _low;
            while (pos < _high)
            {
                ulong z = Next(pos, _high, FindZero);
                if (z >= _high) break;
                ulong o = Next(z, _high, FindOne);
                if (first == _high) first = z;
                free += o - z;
                if (o - z > longest) { longest = o - z; longestStart = z; }
                if (o <= _contigStart && o - z > before) before = o - z;
                pos = o;
            }
            if (free != _freeBits) return "chunk free bits disagree with the bitmap";
            if (longest != _contig) return "chunk contig hint is not the longest free run";
            if (first != _firstFree) return "chunk first-free hint is wrong";
            if (_contig > 0 && !IsRun(_contigStart, _contig)) return "chunk contig start is not a free run of that length";
            if (_scanValid)
            {
                if (before != _scan) return "chunk scan hint is not the longest run before the contig run";
                if (_scan > 0 && (!IsRun(_scanStart, _scan) || _scanStart + _scan > _contigStart)) return "chunk scan start is not such a run";
            }
            if (_populated != null)
            {
                ulong pop = 0, empty = 0, pages = (ulong)_blocks;
                for (ulong p = NextPage(0, pages, true); p < pages; p = NextPage(p + 1, pages, true))
                {
                    pop++;
                    if (((int)p >> SegmentBlocksShift) >= _segCount) return "a populated page has no metadata segment";
                    if (BlockEmpty((int)p)) empty++;
                }
                if (pop != PopulatedPages) return "populated page count disagrees with the bitmap";
                if (empty != EmptyPopulatedPages) return "empty populated page count is wrong";
            }
            return null;
        }

        // [start, start + len) is a maximal free run.
        bool IsRun(ulong start, ulong len)
        {
            if (Next(start, start + len, FindOne) != start + len) return false;
            if (start > 0 && !IsAllocated(start - 1)) return false;
            return start + len >= _bits || IsAllocated(start + len);
        }

        // ---- bit helpers (no BitOperations in Percy's runtime) --------------------------------

        // De Bruijn bit scans (no BitOperations in Percy's runtime): isolate one bit, a
        // multiply puts a unique 6-bit pattern in the top bits, a 64-entry table (a string
        // literal: static data without a static constructor) names the bit.
        const ulong DeBruijn64 = 0x03F79D71B4CB0A89ul;
        const string DeBruijnIndex =
            "\u0000\u0001\u0030\u0002\u0039\u0031\u001c\u0003\u003d\u003a\u0032\u002a\u0026\u001d\u0011\u0004" +
            "\u003e\u0037\u003b\u0024\u0035\u0033\u002b\u0016\u002d\u0027\u0021\u001e\u0018\u0012\u000c\u0005" +
            "\u003f\u002f\u0038\u001b\u003c\u0029\u0025\u0010\u0036\u0023\u0034\u0015\u002c\u0020\u0017\u000b" +
            "\u002e\u001a\u0028\u000f\u0022\u0014\u001f\u000a\u0019\u000e\u0013\u0009\u000d\u0008\u0007\u0006";

        // Inlined, and the table read through a pointer (the string indexer checks bounds):
        // under QEMU's TCG every call and return is a translated-block lookup, and these
        // run on every allocation and free.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static unsafe int TrailingZeros(ulong x)
        {
            if (x == 0) return WordBits;
            fixed (char* index = DeBruijnIndex) return index[(int)(((x & (0 - x)) * DeBruijn64) >> 58)];
        }

        // Index of the highest set bit of x != 0.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static unsafe int HighestBit(ulong x)
        {
            x |= x >> 1; x |= x >> 2; x |= x >> 4; x |= x >> 8; x |= x >> 16; x |= x >> 32;
            fixed (char* index = DeBruijnIndex) return index[(int)(((x ^ (x >> 1)) * DeBruijn64) >> 58)];
        }

        // floor(log2(x)) for x > 0.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        internal static int Log2(ulong x) => HighestBit(x);
    }
}
