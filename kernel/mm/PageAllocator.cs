// The page allocator: a binary buddy allocator over physical page frames.
//
// Blocks are 2^order pages (order 0..MaxOrder), aligned to their size in physical
// frame numbers. Freeing a block merges it with its buddy (the other half of the
// next-larger block) while the buddy is free, so free memory stays in the largest
// blocks it can. Why a buddy allocator: the kernel's callers want single pages (page
// tables, per-CPU pages) and small power-of-two runs (stacks, per-CPU chunks); alloc
// and free are cheap, fragmentation is bounded, and the metadata is small enough for
// bootmem to provide before anything else exists.
//
// Metadata: one state byte per frame (the block state and order of a block's head) and,
// per order, a bitmap of the free blocks of that order. Nothing is threaded through the
// pages themselves, so the allocator never touches the memory it manages, and setting it
// up writes only ~1.3 bytes per frame — under emulation, every freshly touched page costs.
// Allocation takes the highest free block, next to where bootmem allocated top-down, so
// boot-time allocations stay in memory already touched; a per-order search hint keeps
// it from rescanning empty bitmap words.
//
// Pure logic: zeroing is done by the caller through the direct map, and the host tests
// run it against a reference model.
namespace Percy.Kernel.Mm
{
    public enum PageState : byte { Reserved, FreeHead, AllocatedHead, Tail }

    public sealed unsafe class PageAllocator
    {
        public const int MaxOrder = 10;             // 4 MiB blocks
        public const ulong NoPage = ulong.MaxValue;
        const int StateShift = 4;
        const byte OrderMask = 0x0F;

        readonly byte* _state;                      // per frame: state << 4 | order
        readonly ulong*[] _free = new ulong*[MaxOrder + 1];   // per order: one bit per aligned block
        readonly ulong[] _words = new ulong[MaxOrder + 1];
        readonly ulong[] _hint = new ulong[MaxOrder + 1];      // no set bit above this word
        readonly ulong[] _freeBlocks = new ulong[MaxOrder + 1];
        readonly ulong _basePfn, _count, _alignedBase;
        ulong _freePages, _managedPages;

        public ulong FreePages => _freePages;
        public ulong ManagedPages => _managedPages;
        public ulong UsedPages => _managedPages - _freePages;
        public ulong FreeBlocks(int order) => _freeBlocks[order];

        // Bytes of zeroed metadata the constructor needs for `count` frames from basePfn.
        public static ulong MetadataBytes(ulong basePfn, ulong count)
        {
            ulong span = basePfn + count - (basePfn & ~((1ul << MaxOrder) - 1));
            ulong bytes = (count + 7) & ~7ul;
            for (int o = 0; o <= MaxOrder; o++) bytes += ((span >> o) + 64) / 64 * 8;
            return bytes;
        }

        // metadata: MetadataBytes(basePfn, count) zeroed bytes. Every frame starts
        // reserved (state 0); AddFreeRange hands frames to the allocator.
        public PageAllocator(ulong basePfn, ulong count, byte* metadata)
        {
            _basePfn = basePfn;
            _count = count;
            _alignedBase = basePfn & ~((1ul << MaxOrder) - 1);
            _state = metadata;
            ulong span = basePfn + count - _alignedBase;
            byte* next = metadata + ((count + 7) & ~7ul);
            for (int o = 0; o <= MaxOrder; o++)
            {
                _free[o] = (ulong*)next;
                _words[o] = ((span >> o) + 64) / 64;
                next += _words[o] * 8;
            }
        }

        // Gives frames [startPfn, endPfn) to the allocator in the largest aligned blocks.
        public void AddFreeRange(ulong startPfn, ulong endPfn)
        {
            if (startPfn < _basePfn) startPfn = _basePfn;
            if (endPfn > _basePfn + _count) endPfn = _basePfn + _count;
            ulong pfn = startPfn;
            while (pfn < endPfn)
            {
                int order = MaxOrder;
                while (order > 0 && ((pfn & ((1ul << order) - 1)) != 0 || pfn + (1ul << order) > endPfn)) order--;
                for (ulong i = 0; i < (1ul << order); i++)
                    if (State(pfn + i) != PageState.Reserved) return;   // already managed: refuse overlap
                _managedPages += 1ul << order;
                FreeBlock(pfn, order);
                pfn += 1ul << order;
            }
        }

        // The first frame of a free block of 2^order pages, or NoPage.
        public ulong Alloc(int order)
        {
            if (order < 0 || order > MaxOrder) return NoPage;
            int o = order;
            ulong pfn = NoPage;
            while (o <= MaxOrder && (pfn = TakeFree(o)) == NoPage) o++;
            if (pfn == NoPage) return NoPage;
            // Split down to the requested order; the upper halves go back as free blocks.
            while (o > order)
            {
                o--;
                PutFree(pfn + (1ul << o), o);
            }
            SetState(pfn, PageState.AllocatedHead, order);
            _freePages -= 1ul << order;
            return pfn;
        }

        // Returns a block. False (and nothing changed) if pfn is not the head of an
        // allocated block of exactly that order: a double or mismatched free.
        public bool Free(ulong pfn, int order)
        {
            if (order < 0 || order > MaxOrder || pfn < _basePfn || pfn - _basePfn >= _count) return false;
            if (State(pfn) != PageState.AllocatedHead || Order(pfn) != order) return false;
            FreeBlock(pfn, order);
            return true;
        }

        public bool IsAllocated(ulong pfn, out int order)
        {
            order = 0;
            if (pfn < _basePfn || pfn - _basePfn >= _count) return false;
            order = Order(pfn);
            return State(pfn) == PageState.AllocatedHead;
        }

        // Only block heads carry state that matters; a head that merges into a larger block
        // becomes a tail, so a stale pointer to it is never taken for a block again.
        void FreeBlock(ulong pfn, int order)
        {
            _freePages += 1ul << order;
            while (order < MaxOrder)
            {
                ulong buddy = pfn ^ (1ul << order);
                if (buddy < _basePfn || buddy - _basePfn >= _count || !IsFree(buddy, order)) break;
                ClearFree(buddy, order);
                SetState(buddy > pfn ? buddy : pfn, PageState.Tail, 0);
                if (buddy < pfn) pfn = buddy;
                order++;
            }
            PutFree(pfn, order);
        }

        PageState State(ulong pfn) => (PageState)(_state[pfn - _basePfn] >> StateShift);
        int Order(ulong pfn) => _state[pfn - _basePfn] & OrderMask;
        void SetState(ulong pfn, PageState state, int order) => _state[pfn - _basePfn] = (byte)((int)state << StateShift | order);

        ulong Bit(ulong pfn, int order) => (pfn - _alignedBase) >> order;
        bool IsFree(ulong pfn, int order) => (_free[order][Bit(pfn, order) / 64] & (1ul << (int)(Bit(pfn, order) % 64))) != 0;

        void PutFree(ulong pfn, int order)
        {
            ulong bit = Bit(pfn, order);
            _free[order][bit / 64] |= 1ul << (int)(bit % 64);
            if (bit / 64 > _hint[order]) _hint[order] = bit / 64;
            SetState(pfn, PageState.FreeHead, order);
            _freeBlocks[order]++;
        }

        void ClearFree(ulong pfn, int order)
        {
            ulong bit = Bit(pfn, order);
            _free[order][bit / 64] &= ~(1ul << (int)(bit % 64));
            _freeBlocks[order]--;
        }

        // Takes the highest free block of this order, or NoPage.
        ulong TakeFree(int order)
        {
            if (_freeBlocks[order] == 0) return NoPage;
            ulong* words = _free[order];
            for (ulong w = _hint[order] + 1; w-- > 0;)
            {
                if (words[w] == 0) continue;
                _hint[order] = w;
                ulong pfn = _alignedBase + ((w * 64 + HighestBit(words[w])) << order);
                ClearFree(pfn, order);
                return pfn;
            }
            return NoPage;
        }

        static ulong HighestBit(ulong x)
        {
            ulong n = 63;
            while ((x & (1ul << (int)n)) == 0) n--;
            return n;
        }
    }
}
