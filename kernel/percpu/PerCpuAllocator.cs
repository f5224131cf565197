// The dynamic per-CPU allocator: alloc_percpu / free_percpu (issue 6), Linux's
// mm/percpu.c reshaped for Percy's per-CPU virtual memory (seed 002) and first chunk
// (seed 003).
//
// Address space. Every CPU owns a 16 GiB range (PerCpuLayout.UnitStride). Chunk k is
// unit offsets [k * unit_vm, (k + 1) * unit_vm) of every CPU's range at once, so one
// handle names the same offset in every CPU's copy:
//     per_cpu_ptr(h, cpu) = PerCpuLayout.UnitBase(cpu) + h      this CPU: LocalBase + h
// A handle is a ulong offset from the start of a CPU's range. Chunk 0 is the first chunk:
// the static part (the linked .data..percpu) at offset 0, then the reserved part, then
// dynamic space. 0 is never a dynamic handle: the static part sits there (an empty static
// part still takes one 4-byte granule so that this stays true). There is no ceiling but
// virtual space: at most UnitStride / unit_vm chunks (16384 with the default 1 MiB).
//
// Chunks and slots. Each chunk (PerCpuChunk) is a bitmap with hints at 4-byte
// granularity. Chunks sit in slot lists by their longest free run (slot = floor(log2 of
// the run in granules) + 1; 0 = full), as Linux does since 4.14: a request of n granules
// starts at slot(n), so full and nearly full chunks are never looked at, and fuller
// chunks are tried before emptier ones (packing). A chunk whose run grew moves to the
// front of its new list, one whose run shrank to the back (Linux's relocation rule).
// When no chunk fits, a chunk is created at the lowest free index; when a chunk other
// than the first becomes empty it is kept if it is the only empty one, otherwise the
// empty chunk with the higher index is destroyed (Linux keeps one free chunk too: the
// next burst needs no page-table work, and indices stay compact).
//
// Reserved part. percpu.reserved= bytes after the static part that only AllocateReserved
// uses (module per-CPU sections, as Linux's pcpu_reserved_chunk; Percy's default is 0).
// It has its own small chunk object over chunk 0's pages; chunk 0's own bitmap marks the
// static and reserved parts as one permanent area, so normal requests never land there.
// Reserved pages are populated on first use and never depopulated (Linux never
// depopulates the reserved chunk either; the part is small).
//
// Pages. A page of a chunk is populated (mapped, in every CPU's unit) when an allocation
// first touches it, before the allocation is committed. The first chunk's first
// `populatedPages` pages are populated at boot and pinned: they are boot memory, never
// depopulated. A page is empty when no live area touches it. When a Free empties pages,
// they are depopulated, highest first, except while the number of empty populated pages
// is at most EmptyPopulatedPagesHigh: those stay as a reserve for atomic requests, which
// may only use populated pages (they run where mapping memory is not allowed). After a
// normal allocation leaves fewer than EmptyPopulatedPagesLow empty populated pages, the
// allocator populates empty pages of the same chunk (from its first free granule on) up
// to High, best effort (a failure there is not the caller's failure). Linux does this
// in a background worker (pcpu_balance_workfn) with the same LOW = 2 and HIGH = 4; Percy
// has no workqueue, so it happens at the end of the normal allocation. Why 2 and 4: one
// page holds 1024 small (4-byte) or 512 8-byte counters, so two pages absorb a burst of
// atomic allocations between two normal ones, while 4 bounds the memory held for them at
// 16 KiB per CPU; the gap between the two keeps alloc/free at a page boundary from
// mapping and unmapping the same page every time.
//
// Errors. Every call returns null on success or a one-line literal reason. A call that
// fails changes nothing: chunks, bitmaps, pages and statistics are as before. A failed
// Populate rolls back the pages this call already populated; a chunk created for the
// call is destroyed again.
//
// Zeroing. The allocator never touches per-CPU memory. alloc_percpu's contract (zeroed
// memory on every CPU) is the kernel side's: after Allocate succeeds it must zero
// [h, h + size) in every possible CPU's unit, unless Allocate said the area is clean.
// Pages are zero when populated (the backend's contract, and the first chunk's boot
// pages past the static part), so an area on bytes that no area has held since then is
// still zero; the chunks track that per page (PerCpuChunk, "Clean memory"), and a burst
// of allocations in fresh pages needs no clearing at all.
//
// Concurrency. Not thread-safe: the kernel calls it under one lock. The atomic variant
// never calls the backend and never allocates memory, so it may run with interrupts off.
//
// Memory for the allocator itself: chunk objects, metadata segments and chunk-table
// leaves come from `new`, only when a chunk is created or a chunk's used span grows past
// what its object ever had (see PerCpuChunk); destroyed chunk objects are recycled with
// their segments. Allocate and Free in steady state allocate nothing.
//
// Pure logic: the hardware side is behind PerCpuBackend; compiled into the kernel and
// into the host tests.
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Percpu
{
    // What the kernel implements. Pages are numbered from the start of the chunk's unit
    // (page p of chunk k is unit offset k * unit_vm + p * pageSize) and mean that page in
    // every possible CPU's unit.
    public abstract class PerCpuBackend
    {
        // Prepares chunk `index` (page tables for its ranges, if any are needed).
        // False: out of memory, nothing prepared. Never called for chunk 0.
        public abstract bool CreateChunk(int index);
        // The chunk's pages have all been depopulated first.
        public abstract void DestroyChunk(int index);
        // Maps [firstPage, firstPage + pages) in every CPU's unit, zero-filled. All or
        // nothing: on false (out of memory) nothing of this call stays mapped.
        public abstract bool Populate(int chunk, ulong firstPage, ulong pages);
        // Unmaps and frees those pages in every CPU's unit.
        public abstract void Depopulate(int chunk, ulong firstPage, ulong pages);
    }

    public sealed class PerCpuAllocator
    {
        public const ulong EmptyPopulatedPagesLow = 2;
        public const ulong EmptyPopulatedPagesHigh = 4;
        // A block is one page of bits, and the bitmaps work in 64-bit words: 64 granules.
        public const ulong MinPageSize = 64 * PerCpuLayout.MinAllocSize;
        const int GranuleShift = 2;                       // log2(PerCpuLayout.MinAllocSize)
        const int TableLeafShift = 8;                     // chunk table: 256 chunks per leaf
        const int TableLeafSize = 1 << TableLeafShift;

        public const string ErrSizeZero = "size is zero";
        public const string ErrTooLarge = "size is larger than the largest per-CPU allocation";
        public const string ErrAlignNotPowerOfTwo = "alignment is not a power of two";
        public const string ErrAlignAbovePage = "alignment is larger than a page";
        public const string ErrPopulate = "out of memory: cannot populate per-CPU pages";
        public const string ErrCreateChunk = "out of memory: cannot create a per-CPU chunk";
        public const string ErrNoVirtualSpace = "out of per-CPU virtual space: every chunk index is in use";
        public const string ErrAtomicNoSpace = "atomic request: no populated per-CPU space fits";
        public const string ErrNoReserved = "there is no reserved per-CPU part";
        public const string ErrReservedTooLarge = "size is larger than the reserved per-CPU part";
        public const string ErrReservedFull = "the reserved per-CPU part has no room for this request";
        public const string ErrUnaligned = "handle is not 4-byte aligned";
        public const string ErrStatic = "handle is in the static per-CPU part";
        public const string ErrOutside = "handle is outside every per-CPU chunk";

        readonly PerCpuBackend _backend;
        readonly ulong _unitVm, _pageSize, _staticSize, _reservedSize;
        readonly ulong _reservedStart, _dynamicStart;      // byte offsets in chunk 0
        readonly int _unitShift, _pageShift, _blockBits, _blockShift;
        readonly ulong _maxChunks, _maxAllocSize;
        readonly PerCpuChunk _first, _reserved;
        readonly PerCpuChunk[][] _table;
        readonly PerCpuChunk[] _slotHead, _slotTail;
        ulong _slotsInUse;                                  // bit s: slot s's list is not empty
        PerCpuChunk _spare, _emptyChunk;
        int _indexLimit;

        ulong _allocs, _frees, _live, _liveBytes, _maxLiveBytes, _chunks, _populatedPages, _emptyPopulated;

        PerCpuAllocator(PerCpuBackend backend, ulong unitVm, ulong pageSize, ulong staticSize, ulong reservedSize, ulong populatedPages)
        {
            _backend = backend;
            _unitVm = unitVm;
            _pageSize = pageSize;
            _staticSize = staticSize;
            _reservedSize = reservedSize;
            _unitShift = PerCpuChunk.Log2(unitVm);
            _pageShift = PerCpuChunk.Log2(pageSize);
            _blockBits = (int)(pageSize >> GranuleShift);
            _blockShift = _pageShift - GranuleShift;
            _reservedStart = AlignUp(staticSize, PerCpuLayout.MinAllocSize);
            if (_reservedStart == 0) _reservedStart = PerCpuLayout.MinAllocSize;
            _dynamicStart = _reservedStart + reservedSize;
            _maxChunks = PerCpuLayout.UnitStride >> _unitShift;
            _maxAllocSize = _maxChunks > 1 ? unitVm : unitVm - _dynamicStart;
            _table = new PerCpuChunk[(int)((_maxChunks + TableLeafSize - 1) >> TableLeafShift)][];
            int slots = PerCpuChunk.Log2(unitVm >> GranuleShift) + 2;   // at most 34 (16 GiB units): _slotsInUse holds them
            _slotHead = new PerCpuChunk[slots];
            _slotTail = new PerCpuChunk[slots];

            ulong unitBits = unitVm >> GranuleShift;
            _first = new PerCpuChunk(_blockBits, unitBits, _dynamicStart >> GranuleShift, unitBits, true);
            _first.Index = 0;
            _first.Base = 0;
            _first.EnsureSegments(populatedPages << _blockShift);
            for (ulong p = 0; p < populatedPages; p++)
            {
                _first.SetPopulated(p, true);
                if (_first.BlockEmpty((int)p)) _first.EmptyPopulatedPages++;
            }
            _first.PopulatedPages = populatedPages;
            _first.PinnedPages = populatedPages;
            _populatedPages = populatedPages;
            _emptyPopulated = _first.EmptyPopulatedPages;
            SetChunk(0, _first);
            _chunks = 1;
            Link(_first, SlotOf(_first.ContigBits), false);

            if (reservedSize > 0)
            {
                // Its own bitmap, from the page holding the reserved part's start (so that
                // alignment in its bits is alignment in the unit), over whole blocks.
                ulong baseOffset = _reservedStart & ~(pageSize - 1);
                ulong low = (_reservedStart - baseOffset) >> GranuleShift;
                ulong high = low + (reservedSize >> GranuleShift);
                ulong bits = AlignUp(high, (ulong)_blockBits);
                _reserved = new PerCpuChunk(_blockBits, bits, low, high, false);
                _reserved.Index = -1;
                _reserved.Base = baseOffset;
            }
        }

        // Builds the allocator for the first chunk's layout, or says why not (null on
        // success). populatedPages: how many pages from offset 0 of chunk 0 are mapped
        // already (at least the static part; PerCpuUnitLayout.CommittedPages), zero past
        // the static part.
        public static string Create(ulong unitVm, ulong pageSize, ulong staticSize, ulong reservedSize, ulong populatedPages,
                                    PerCpuBackend backend, out PerCpuAllocator allocator)
        {
            allocator = null;
            if (backend == null) return "no per-CPU backend";
            if (!IsPowerOfTwo(pageSize) || pageSize < MinPageSize) return "page size is not a power of two of at least 256 bytes";
            if (!IsPowerOfTwo(unitVm)) return "unit_vm is not a power of two";
            if (unitVm < pageSize) return "unit_vm is smaller than a page";
            if (unitVm > PerCpuLayout.UnitStride) return "unit_vm is larger than the per-CPU unit stride (16 GiB)";
            if (reservedSize % PerCpuLayout.MinAllocSize != 0) return "reserved size is not a multiple of 4 bytes";
            if (staticSize > unitVm || reservedSize > unitVm) return "unit_vm is smaller than static + reserved";
            ulong start = AlignUp(staticSize, PerCpuLayout.MinAllocSize);
            if (start == 0) start = PerCpuLayout.MinAllocSize;
            if (start + reservedSize > unitVm) return "unit_vm is smaller than static + reserved";
            if (populatedPages > unitVm / pageSize) return "more populated pages than the unit holds";
            if (populatedPages * pageSize < staticSize) return "the static part is not populated";
            allocator = new PerCpuAllocator(backend, unitVm, pageSize, staticSize, reservedSize, populatedPages);
            return null;
        }

        public static string Create(PerCpuUnitLayout layout, ulong populatedPages, PerCpuBackend backend, out PerCpuAllocator allocator)
            => Create(layout.UnitVm, layout.PageSize, layout.StaticSize, layout.ReservedSize, populatedPages, backend, out allocator);

        // ---- statistics -----------------------------------------------------------------------

        public ulong Allocations => _allocs;
        public ulong Frees => _frees;
        public ulong Live => _live;
        public ulong LiveBytes => _liveBytes;               // in 4-byte granules: what the areas occupy
        public ulong MaxLiveBytes => _maxLiveBytes;
        public ulong Chunks => _chunks;
        public ulong PopulatedPages => _populatedPages;     // per CPU, all chunks, pinned included
        public ulong EmptyPopulatedPages => _emptyPopulated;
        public ulong StaticBytes => _staticSize;
        public ulong ReservedBytes => _reservedSize;
        public ulong UnitVm => _unitVm;
        public ulong PageSize => _pageSize;
        public ulong MaxAllocSize => _maxAllocSize;
        public ulong MaxChunks => _maxChunks;
        public ulong ReservedStart => _reservedStart;
        public ulong DynamicStart => _dynamicStart;
        public int ChunkIndexLimit => _indexLimit;          // every chunk index is below this
        public bool ChunkExists(int index) => index >= 0 && (ulong)index < _maxChunks && ChunkAt((ulong)index) != null;
        internal PerCpuChunk Chunk(int index) => ChunkExists(index) ? ChunkAt((ulong)index) : null;
        internal PerCpuChunk ReservedChunk => _reserved;

        // `percpu: allocs=.. frees=.. live=.. live_bytes=.. max_live_bytes=.. chunks=.. populated_pages_per_cpu=.. static_bytes=.. reserved_bytes=.. unit_vm=..`
        public TextLine FormatStats()
            => $"percpu: allocs={_allocs} frees={_frees} live={_live} live_bytes={_liveBytes} max_live_bytes={_maxLiveBytes} chunks={_chunks} populated_pages_per_cpu={_populatedPages} static_bytes={_staticSize} reserved_bytes={_reservedSize} unit_vm={_unitVm}";

        // Fragmentation of a chunk's free space: the share of it that lies outside its
        // longest free run, (free - max_contig) * 100 / free, rounded down; 0 when nothing
        // is free. 0% = all free space in one run; near 100% = scattered in small holes.
        public static ulong FragmentationPercent(ulong freeBytes, ulong maxContigBytes)
            => freeBytes == 0 ? 0 : (freeBytes - maxContigBytes) * 100 / freeBytes;

        // `percpu: chunk <k> base=0x<offset> free=<bytes> max_contig=<bytes> populated=<pages> fragmentation=<percent>%`
        // (chunk 0: its dynamic part only). Call for the indices where ChunkExists.
        public TextLine FormatChunkLine(int index)
        {
            var c = Chunk(index);
            if (c == null) return $"percpu: chunk {index} absent";
            ulong free = c.FreeBits << GranuleShift, contig = c.ContigBits << GranuleShift;
            return $"percpu: chunk {index} base=0x{c.Base:x} free={free} max_contig={contig} populated={c.PopulatedPages} fragmentation={FragmentationPercent(free, contig)}%";
        }

        // `percpu: reserved base=0x<offset> size=<bytes> free=<bytes> max_contig=<bytes> fragmentation=<percent>%`
        public TextLine FormatReservedLine()
        {
            if (_reserved == null) return $"percpu: reserved size=0";
            ulong free = _reserved.FreeBits << GranuleShift, contig = _reserved.ContigBits << GranuleShift;
            return $"percpu: reserved base=0x{_reservedStart:x} size={_reservedSize} free={free} max_contig={contig} fragmentation={FragmentationPercent(free, contig)}%";
        }

        // ---- allocation -------------------------------------------------------------------------

        // alloc_percpu: `size` bytes aligned to `align` (a power of two up to a page) in
        // every CPU's unit. atomic: only already populated pages, no backend call, no new
        // chunk, no memory allocated. Null and the handle, or why not.
        public string Allocate(ulong size, ulong align, bool atomic, out ulong handle)
            => Allocate(size, align, atomic, out handle, out _);

        // The same, and whether the area is still zero in every unit (see PerCpuChunk,
        // "Clean memory"): if not, the caller clears it.
        public string Allocate(ulong size, ulong align, bool atomic, out ulong handle, out bool clean)
        {
            handle = 0;
            clean = false;
            string err = CheckRequest(size, align, _maxAllocSize, ErrTooLarge, out ulong bits, out ulong alignBits);
            if (err != null) return err;
            // Only the slots that hold chunks, from the request's on: one bit scan, where a
            // loop over ~20 mostly empty lists costs more than the rest of the allocation.
            for (ulong slots = _slotsInUse & (~0ul << (PerCpuChunk.Log2(bits) + 1)); slots != 0; slots &= slots - 1)
            {
                for (var c = _slotHead[PerCpuChunk.TrailingZeros(slots)]; c != null; c = c.NextInSlot)
                {
                    ulong fit;                              // (FindFit refuses chunks whose longest run is too short)
                    if (atomic)
                    {
                        if (FindPopulatedFit(c, bits, alignBits, out fit)) return Commit(c, fit, bits, true, false, out handle, out clean);
                    }
                    else if (c.FindFit(c.Low, bits, alignBits, out fit)) return Commit(c, fit, bits, false, false, out handle, out clean);
                }
            }
            if (atomic) return ErrAtomicNoSpace;

            int index = LowestFreeIndex();
            if (index < 0) return ErrNoVirtualSpace;
            if (!_backend.CreateChunk(index)) return ErrCreateChunk;
            var chunk = _spare;
            if (chunk != null) _spare = chunk.NextSpare;
            else chunk = new PerCpuChunk(_blockBits, _unitVm >> GranuleShift, 0, _unitVm >> GranuleShift, true);
            chunk.NextSpare = null;
            chunk.Index = index;
            chunk.Base = (ulong)index << _unitShift;
            chunk.FindFit(0, bits, alignBits, out ulong first);     // a fresh chunk fits any allowed request at 0
            return Commit(chunk, first, bits, false, true, out handle, out clean);
        }

        // For module per-CPU sections: from the reserved part only. Never atomic. The area
        // is never known to be clean: the caller always clears it.
        public string AllocateReserved(ulong size, ulong align, out ulong handle)
        {
            handle = 0;
            if (_reserved == null) return ErrNoReserved;
            string err = CheckRequest(size, align, _reservedSize, ErrReservedTooLarge, out ulong bits, out ulong alignBits);
            if (err != null) return err;
            if (!_reserved.FindFit(_reserved.Low, bits, alignBits, out ulong fit)) return ErrReservedFull;
            return Commit(_reserved, fit, bits, false, false, out handle, out _);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        string CheckRequest(ulong size, ulong align, ulong max, string tooLarge, out ulong bits, out ulong alignBits)
        {
            bits = (size + PerCpuLayout.MinAllocSize - 1) >> GranuleShift;
            alignBits = (align + PerCpuLayout.MinAllocSize - 1) >> GranuleShift;   // 1, 2, 4: 1 granule
            // A valid request passes one test (size - 1 < max also refuses size 0).
            if ((size - 1 < max) & ((align & (align - 1)) == 0) & (align - 1 < _pageSize)) return null;
            bits = alignBits = 0;
            return RequestError(size, align, max, tooLarge);
        }

        // Why CheckRequest refused, the first reason in the order the issue lists them.
        string RequestError(ulong size, ulong align, ulong max, string tooLarge)
        {
            if (size == 0) return ErrSizeZero;
            if (size > max) return tooLarge;
            if (!IsPowerOfTwo(align)) return ErrAlignNotPowerOfTwo;
            return ErrAlignAbovePage;
        }

        // Populates what [fit, fit + bits) of c needs (unless atomic), then commits it.
        // fresh: c was created for this call and is installed only on success.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        string Commit(PerCpuChunk c, ulong fit, ulong bits, bool atomic, bool fresh, out ulong handle, out bool clean)
        {
            handle = 0;
            clean = false;
            PerCpuChunk owner = PageOwner(c);
            PageSpan(c, owner, fit, bits, out ulong p0, out ulong p1);
            // (An atomic fit lies on populated pages: FindPopulatedFit.)
            if (!owner.Populated(p0, p1) && !PopulatePages(owner, p0, p1))
            {
                if (fresh)
                {
                    _backend.DestroyChunk(c.Index);
                    c.NextSpare = _spare;
                    _spare = c;
                }
                return ErrPopulate;
            }
            if (fresh)
            {
                SetChunk(c.Index, c);
                _chunks++;
                Link(c, SlotOf(c.ContigBits), false);
            }
            clean = c.AllocateArea(fit, bits, out ulong wereEmpty);
            if (c != _reserved)
            {
                // Its pages, all populated now, that were empty are empty no longer. (The
                // reserved part's pages belong to the first chunk, where they are never empty;
                // the reserved chunk's clean answer is never used: AllocateReserved.)
                c.EmptyPopulatedPages -= wereEmpty;
                _emptyPopulated -= wereEmpty;
                Relocate(c);
            }
            if (c == _emptyChunk) _emptyChunk = null;

            _allocs++;
            _live++;
            _liveBytes += bits << GranuleShift;
            _maxLiveBytes = _liveBytes > _maxLiveBytes ? _liveBytes : _maxLiveBytes;
            handle = c.Base + (fit << GranuleShift);
            if ((_emptyPopulated < EmptyPopulatedPagesLow) & !atomic & (c != _reserved)) Refill(c);
            return null;
        }

        // The first fit in c that lies on populated pages only.
        bool FindPopulatedFit(PerCpuChunk c, ulong bits, ulong alignBits, out ulong fit)
        {
            ulong pos = c.Low, pages = (ulong)c.Blocks;
            while (c.FindFit(pos, bits, alignBits, out fit))
            {
                PageSpan(c, c, fit, bits, out ulong p0, out ulong p1);
                ulong hole = c.NextPage(p0, p1, false);
                if (hole >= p1) return true;
                // Every fit from here to the next populated page covers the hole.
                ulong next = c.NextPage(hole + 1, pages, true);
                if (next >= pages) return false;
                pos = next << _blockShift;
            }
            return false;
        }

        // Populates the unpopulated pages of [p0, p1), all or nothing. New pages count as
        // empty populated pages until the area is committed on them.
        bool PopulatePages(PerCpuChunk owner, ulong p0, ulong p1)
        {
            for (ulong p = p0; NextUnpopulatedRun(owner, ref p, p1, out ulong q); p = q)
            {
                if (_backend.Populate(owner.Index, p, q - p)) continue;
                DepopulateHoles(owner, p0, p);
                return false;
            }
            MarkPopulated(owner, p0, p1);
            return true;
        }

        // The next run [p, q) of pages the bitmap shows unpopulated, from p and before end.
        static bool NextUnpopulatedRun(PerCpuChunk owner, ref ulong p, ulong end, out ulong q)
        {
            p = owner.NextPage(p, end, false);
            q = p < end ? owner.NextPage(p, end, true) : end;
            return p < end;
        }

        // Records that the unpopulated pages of [p, q) are populated now: empty populated
        // pages, unless the first chunk's static or reserved part lies there.
        void MarkPopulated(PerCpuChunk owner, ulong p, ulong q)
        {
            owner.EnsureSegments(q << _blockShift);        // every populated page has its metadata
            for (; p < q; p++)
            {
                if (owner.IsPopulated(p)) continue;
                owner.SetPopulated(p, true);
                owner.PopulatedPages++;
                _populatedPages++;
                if (!owner.BlockEmpty((int)p)) continue;
                owner.EmptyPopulatedPages++;
                _emptyPopulated++;
            }
        }

        // Undoes PopulatePages up to `end`: the runs it populated are the runs the bitmap
        // still shows unpopulated (it is only updated once every run succeeded).
        void DepopulateHoles(PerCpuChunk owner, ulong p0, ulong end)
        {
            for (ulong p = p0; NextUnpopulatedRun(owner, ref p, end, out ulong q); p = q)
                _backend.Depopulate(owner.Index, p, q - p);
        }

        // Best effort: populate empty pages of c, from its first free granule on, until
        // there are EmptyPopulatedPagesHigh empty populated pages.
        void Refill(PerCpuChunk c)
        {
            ulong pages = (ulong)c.Blocks;
            ulong p = c.FirstFree >> _blockShift;
            while ((_emptyPopulated < EmptyPopulatedPagesHigh) & (p < pages))
            {
                if (!c.BlockEmpty((int)p) | c.IsPopulated(p)) { p++; continue; }
                ulong q = p + 1;
                while (q < pages && q - p < EmptyPopulatedPagesHigh - _emptyPopulated && c.BlockEmpty((int)q) && !c.IsPopulated(q)) q++;
                if (!_backend.Populate(c.Index, p, q - p)) return;
                MarkPopulated(c, p, q);
                p = q;
            }
        }

        // ---- free ----------------------------------------------------------------------------

        // free_percpu. Null, or why the handle is not a live allocation (nothing changes).
        public string Free(ulong handle)
        {
            ulong bits = 0, emptied = 0;
            string err = Locate(handle, out PerCpuChunk c, out ulong bit);
            if (err == null) err = c.FreeArea(bit, out bits, out emptied);
            if (err != null) return err;
            _frees++;
            _live--;
            _liveBytes -= bits << GranuleShift;
            if (c == _reserved) return null;               // its pages are the first chunk's, never empty

            if (emptied > 0)                                // pages the area left empty (all populated: it was live)
            {
                c.EmptyPopulatedPages += emptied;
                _emptyPopulated += emptied;
                PageSpan(c, c, bit, bits, out ulong p0, out ulong p1);
                Trim(c, p0, p1);
            }
            Relocate(c);
            if ((c != _first) & c.IsEmpty) KeepOrDestroy(c);
            return null;
        }

        // The size in bytes (4-byte granules) of the live allocation at `handle`.
        public string AreaSize(ulong handle, out ulong bytes)
        {
            bytes = 0;
            string err = Locate(handle, out PerCpuChunk c, out ulong bit);
            if (err == null) err = c.CheckFree(bit);
            if (err != null) return err;
            bytes = c.AreaBits(bit) << GranuleShift;
            return null;
        }

        // Inlined: an out parameter of a reference type costs a write-barrier call otherwise.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        string Locate(ulong handle, out PerCpuChunk chunk, out ulong bit)
        {
            chunk = null;
            bit = 0;
            ulong k = handle >> _unitShift;
            if (((handle & (PerCpuLayout.MinAllocSize - 1)) == 0) & (handle >= _dynamicStart) & (k < _maxChunks))
                chunk = k == 0 ? _first : ChunkAt(k);       // the usual case: a dynamic handle
            else if (((handle & (PerCpuLayout.MinAllocSize - 1)) == 0) & (handle >= _reservedStart) & (handle < _dynamicStart))
                chunk = _reserved;
            if (chunk == null) return LocateError(handle);
            bit = (handle - chunk.Base) >> GranuleShift;
            return null;
        }

        // Why Locate found no chunk for the handle.
        string LocateError(ulong handle)
        {
            if ((handle & (PerCpuLayout.MinAllocSize - 1)) != 0) return ErrUnaligned;
            return handle < _reservedStart ? ErrStatic : ErrOutside;
        }

        // Depopulates the empty pages of [p0, p1), highest first, while more than
        // EmptyPopulatedPagesHigh pages are empty and populated. Pinned pages stay.
        void Trim(PerCpuChunk c, ulong p0, ulong p1)
        {
            ulong runLo = 0, runHi = 0;
            for (ulong p = p1; (p-- > p0) & (_emptyPopulated > EmptyPopulatedPagesHigh);)
            {
                if ((p < c.PinnedPages) | !c.IsPopulated(p) | !c.BlockEmpty((int)p)) continue;
                if (runHi != 0 && p + 1 != runLo) { _backend.Depopulate(c.Index, runLo, runHi - runLo); runHi = 0; }
                if (runHi == 0) runHi = p + 1;
                runLo = p;
                c.SetPopulated(p, false);
                c.PopulatedPages--;
                c.EmptyPopulatedPages--;
                _populatedPages--;
                _emptyPopulated--;
            }
            if (runHi != 0) _backend.Depopulate(c.Index, runLo, runHi - runLo);
        }

        void KeepOrDestroy(PerCpuChunk c)
        {
            if (_emptyChunk == null || _emptyChunk == c) { _emptyChunk = c; return; }
            PerCpuChunk keep = _emptyChunk.Index < c.Index ? _emptyChunk : c;
            Destroy(keep == c ? _emptyChunk : c);
            _emptyChunk = keep;
        }

        void Destroy(PerCpuChunk c)
        {
            ulong pages = (ulong)c.Blocks, p = 0;
            while (true)
            {
                p = c.NextPage(p, pages, true);
                if (p >= pages) break;
                ulong q = c.NextPage(p, pages, false);
                _backend.Depopulate(c.Index, p, q - p);
                p = q;
            }
            _populatedPages -= c.PopulatedPages;
            _emptyPopulated -= c.EmptyPopulatedPages;
            Unlink(c);
            SetChunk(c.Index, null);
            _chunks--;
            _backend.DestroyChunk(c.Index);
            c.Reset();
            c.NextSpare = _spare;
            _spare = c;
        }

        // ---- chunks, pages, slots ------------------------------------------------------------------

        // The chunk whose pages hold c's areas (the reserved part lives in chunk 0's pages).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        PerCpuChunk PageOwner(PerCpuChunk c) => c == _reserved ? _first : c;

        // Pages of c's owner (PageOwner) that bits [bit, bit + bits) of c touch: [p0, p1).
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void PageSpan(PerCpuChunk c, PerCpuChunk owner, ulong bit, ulong bits, out ulong p0, out ulong p1)
        {
            ulong start = c.Base + (bit << GranuleShift) - owner.Base;
            ulong end = start + (bits << GranuleShift);
            p0 = start >> _pageShift;
            p1 = (end + _pageSize - 1) >> _pageShift;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        PerCpuChunk ChunkAt(ulong index)
        {
            var leaf = _table[(int)(index >> TableLeafShift)];
            return leaf == null ? null : leaf[(int)(index & (TableLeafSize - 1))];
        }

        void SetChunk(int index, PerCpuChunk c)
        {
            var leaf = _table[index >> TableLeafShift];
            if (leaf == null) { leaf = new PerCpuChunk[TableLeafSize]; _table[index >> TableLeafShift] = leaf; }
            leaf[index & (TableLeafSize - 1)] = c;
            if (c != null && index >= _indexLimit) _indexLimit = index + 1;
            while (_indexLimit > 0 && ChunkAt((ulong)(_indexLimit - 1)) == null) _indexLimit--;
        }

        int LowestFreeIndex()
        {
            for (ulong i = 1; i < _maxChunks; i++)
                if (ChunkAt(i) == null) return (int)i;
            return -1;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        static int SlotOf(ulong contigBits) => contigBits == 0 ? 0 : PerCpuChunk.Log2(contigBits) + 1;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        void Relocate(PerCpuChunk c)
        {
            // Still inside its slot's range [2^(slot-1), 2^slot): most calls.
            if ((c.Slot > 0) & (c.ContigBits >> (c.Slot - 1) == 1)) return;
            MoveSlot(c);
        }

        void MoveSlot(PerCpuChunk c)
        {
            int slot = SlotOf(c.ContigBits);
            if (slot == c.Slot) return;                     // slot 0: still full
            bool front = slot > c.Slot;
            Unlink(c);
            Link(c, slot, front);
        }

        void Link(PerCpuChunk c, int slot, bool front)
        {
            c.Slot = slot;
            if (_slotHead[slot] == null)
            {
                c.PrevInSlot = c.NextInSlot = null;
                _slotHead[slot] = _slotTail[slot] = c;
                _slotsInUse |= 1ul << slot;
                return;
            }
            if (front)
            {
                c.PrevInSlot = null; c.NextInSlot = _slotHead[slot];
                _slotHead[slot].PrevInSlot = c; _slotHead[slot] = c;
            }
            else
            {
                c.NextInSlot = null; c.PrevInSlot = _slotTail[slot];
                _slotTail[slot].NextInSlot = c; _slotTail[slot] = c;
            }
        }

        void Unlink(PerCpuChunk c)
        {
            if (c.Slot < 0) return;
            if (c.PrevInSlot != null) c.PrevInSlot.NextInSlot = c.NextInSlot; else _slotHead[c.Slot] = c.NextInSlot;
            if (c.NextInSlot != null) c.NextInSlot.PrevInSlot = c.PrevInSlot; else _slotTail[c.Slot] = c.PrevInSlot;
            if (_slotHead[c.Slot] == null) _slotsInUse &= ~(1ul << c.Slot);
            c.PrevInSlot = c.NextInSlot = null;
            c.Slot = -1;
        }

        // ---- checking (host tests, kernel self-test) -----------------------------------------------

        // Null if every chunk's hints, pages, slots and the totals agree, else what is wrong.
        public string Check()
        {
            ulong chunks = 0, populated = 0, empty = 0, emptyUnpinned = 0, emptyChunks = 0, live = 0;
            for (int i = 0; i < _indexLimit; i++)
            {
                var c = Chunk(i);
                if (c == null) continue;
                chunks++;
                if (c.Index != i) return "chunk index disagrees with the table";
                string err = c.Check();
                if (err != null) return err;
                populated += c.PopulatedPages;
                empty += c.EmptyPopulatedPages;
                live += c.LiveAreas;
                ulong pages = (ulong)c.Blocks;
                for (ulong p = c.NextPage(c.PinnedPages, pages, true); p < pages; p = c.NextPage(p + 1, pages, true))
                    if (c.BlockEmpty((int)p)) emptyUnpinned++;
                if (c.Slot != SlotOf(c.ContigBits)) return "chunk is in the wrong slot";
                bool listed = false;
                for (var s = _slotHead[c.Slot]; s != null; s = s.NextInSlot) if (s == c) listed = true;
                if (!listed) return "chunk is missing from its slot list";
                if (i != 0 && c.IsEmpty) emptyChunks++;
            }
            if (_reserved != null)
            {
                string err = _reserved.Check();
                if (err != null) return err;
                live += _reserved.LiveAreas;
            }
            for (int s = 0; s < _slotHead.Length; s++)
                if ((_slotHead[s] != null) != ((_slotsInUse >> s & 1) != 0)) return "the mask of slots in use disagrees with the slot lists";
            if (chunks != _chunks) return "chunk count is wrong";
            if (populated != _populatedPages) return "populated page total is wrong";
            if (empty != _emptyPopulated) return "empty populated page total is wrong";
            if (live != _live) return "live count disagrees with the chunks";
            if (emptyChunks > 1) return "more than one empty chunk is kept";
            if (emptyUnpinned > EmptyPopulatedPagesHigh) return "more empty populated pages than the reserve allows";
            return null;
        }

        static bool IsPowerOfTwo(ulong x) => x != 0 && (x & (x - 1)) == 0;
        static ulong AlignUp(ulong x, ulong a) => (x + a - 1) & ~(a - 1);
    }
}
