// The page allocator: a binary buddy allocator over physical page frames.
//
// Blocks are 2^order pages (order 0..MaxOrder), aligned to their size in physical
// frame numbers. Freeing a block merges it with its buddy (the other half of the
// next-larger block) while the buddy is free, so free memory stays in the largest
// blocks it can. Why a buddy allocator: the kernel's callers want single pages (page
// tables, per-CPU pages) and small power-of-two runs (stacks, per-CPU chunks); alloc
// and free are O(MaxOrder), fragmentation is bounded, and the metadata is one small
// record per page, which bootmem can provide before anything else exists.
//
// The allocator never touches the pages themselves (free lists live in the metadata),
// so it is pure logic: zeroing is done by the caller through the direct map, and the
// host tests run it against a reference model.
namespace Percy.Kernel.Mm
{
    public enum PageState : byte { Reserved, FreeHead, AllocatedHead, Tail }

    public struct PageInfo
    {
        public int Next, Prev;                      // free-list links (indices), -1 for none
        public byte Order;
        public PageState State;
    }

    public sealed unsafe class PageAllocator
    {
        public const int MaxOrder = 10;             // 4 MiB blocks
        public const ulong NoPage = ulong.MaxValue;
        const int None = -1;

        readonly PageInfo* _pages;
        readonly ulong _basePfn, _count;
        readonly int[] _freeHead = new int[MaxOrder + 1];
        readonly ulong[] _freeBlocks = new ulong[MaxOrder + 1];
        ulong _freePages, _managedPages;

        public ulong FreePages => _freePages;
        public ulong ManagedPages => _managedPages;
        public ulong UsedPages => _managedPages - _freePages;
        public ulong FreeBlocks(int order) => _freeBlocks[order];

        // metadata: `count` zeroed PageInfo records, one per frame from basePfn (zero is
        // PageState.Reserved). Every frame starts reserved; AddFreeRange hands frames over.
        public PageAllocator(ulong basePfn, ulong count, PageInfo* metadata)
        {
            _basePfn = basePfn;
            _count = count;
            _pages = metadata;
            for (int o = 0; o <= MaxOrder; o++) _freeHead[o] = None;
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
                    if (_pages[pfn - _basePfn + i].State != PageState.Reserved) return;   // already managed: refuse overlap
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
            while (o <= MaxOrder && _freeHead[o] == None) o++;
            if (o > MaxOrder) return NoPage;
            int index = _freeHead[o];
            Unlink(index, o);
            ulong pfn = _basePfn + (ulong)index;
            // Split down to the requested order; the upper halves go back as free blocks.
            while (o > order)
            {
                o--;
                Push((int)(pfn + (1ul << o) - _basePfn), o);
            }
            MarkAllocated(pfn, order);
            _freePages -= 1ul << order;
            return pfn;
        }

        // Returns a block. False (and nothing changed) if pfn is not the head of an
        // allocated block of exactly that order: a double or mismatched free.
        public bool Free(ulong pfn, int order)
        {
            if (order < 0 || order > MaxOrder || pfn < _basePfn || pfn - _basePfn >= _count) return false;
            ref PageInfo head = ref _pages[pfn - _basePfn];
            if (head.State != PageState.AllocatedHead || head.Order != order) return false;
            FreeBlock(pfn, order);
            return true;
        }

        public bool IsAllocated(ulong pfn, out int order)
        {
            order = 0;
            if (pfn < _basePfn || pfn - _basePfn >= _count) return false;
            order = _pages[pfn - _basePfn].Order;
            return _pages[pfn - _basePfn].State == PageState.AllocatedHead;
        }

        // Only block heads carry state that matters; a head that merges into a larger block
        // becomes a tail, so a stale pointer to it is never taken for a block again.
        void FreeBlock(ulong pfn, int order)
        {
            _freePages += 1ul << order;
            while (order < MaxOrder)
            {
                ulong buddy = pfn ^ (1ul << order);
                if (buddy < _basePfn || buddy - _basePfn >= _count) break;
                ref PageInfo b = ref _pages[buddy - _basePfn];
                if (b.State != PageState.FreeHead || b.Order != order) break;
                Unlink((int)(buddy - _basePfn), order);
                _pages[(buddy > pfn ? buddy : pfn) - _basePfn].State = PageState.Tail;
                if (buddy < pfn) pfn = buddy;
                order++;
            }
            Push((int)(pfn - _basePfn), order);
        }

        void MarkAllocated(ulong pfn, int order)
        {
            ref PageInfo head = ref _pages[pfn - _basePfn];
            head.State = PageState.AllocatedHead;
            head.Order = (byte)order;
        }

        void Push(int index, int order)
        {
            ref PageInfo p = ref _pages[index];
            p.State = PageState.FreeHead;
            p.Order = (byte)order;
            p.Prev = None;
            p.Next = _freeHead[order];
            if (p.Next != None) _pages[p.Next].Prev = index;
            _freeHead[order] = index;
            _freeBlocks[order]++;
        }

        void Unlink(int index, int order)
        {
            ref PageInfo p = ref _pages[index];
            if (p.Prev != None) _pages[p.Prev].Next = p.Next;
            else _freeHead[order] = p.Next;
            if (p.Next != None) _pages[p.Next].Prev = p.Prev;
            p.Next = p.Prev = None;
            _freeBlocks[order]--;
        }
    }
}
