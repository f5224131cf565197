// The kernel heap: small objects from size-classed pages, large ones from page blocks.
//
// A slab is one page holding objects of one size class; its header (first 64 bytes)
// keeps the class, a count, a free list threaded through the free objects and a bitmap
// of the objects handed out (so a double free is refused, not absorbed). Blocks
// above the largest class take 2^k pages with the same header shape, so Free finds the
// header of any pointer by rounding down to its page. Everything comes zeroed: the
// runtime's allocation helpers require zeroed objects.
namespace Percy.Kernel.Mm
{
    internal static unsafe class KernelHeap
    {
        const ulong Page = AddressSpace.PageSize;
        const uint SlabMagic = 0x534C4142, LargeMagic = 0x4C415247;   // "SLAB", "LARG"
        const int HeaderSize = 64;
        const int Classes = 8;                                          // 32, 64, ... 4096 - HeaderSize
        const int SmallestClassShift = 5;

        unsafe struct Header
        {
            public fixed ulong Allocated[2];       // one bit per object; capacity is at most 126
            public uint Magic;
            public int SizeClass;                  // slab: class index; large block: page order
            public int InUse;
            public int Capacity;
            public Header* NextPartial;            // slabs of this class with free objects
            public void* FreeList;
        }

        static Header** s_partial;                 // per class: slabs with free space
        static ulong s_bytesInUse, s_pagesInUse, s_allocations, s_frees;

        public static bool Ready => s_partial != null;
        public static ulong BytesInUse => s_bytesInUse;
        public static ulong PagesInUse => s_pagesInUse;
        public static ulong Allocations => s_allocations;
        public static ulong Frees => s_frees;

        public static void Init() => s_partial = (Header**)PageZeroed(0);

        static int ClassSize(int c) => c == Classes - 1 ? (int)Page - HeaderSize : 1 << (c + SmallestClassShift);

        public static void* Allocate(ulong size)
        {
            if (size == 0) size = 1;
            int c = 0;
            while (c < Classes && (ulong)ClassSize(c) < size) c++;
            void* p = c < Classes ? AllocateSmall(c) : AllocateLarge(size);
            if (p != null) s_allocations++;
            return p;
        }

        static void* AllocateSmall(int c)
        {
            Header* slab = s_partial[c];
            if (slab == null)
            {
                slab = (Header*)PageZeroed(0);
                if (slab == null) return null;
                slab->Magic = SlabMagic;
                slab->SizeClass = c;
                slab->Capacity = ((int)Page - HeaderSize) / ClassSize(c);
                for (int i = slab->Capacity - 1; i >= 0; i--)
                {
                    void** obj = (void**)((byte*)slab + HeaderSize + i * ClassSize(c));
                    *obj = slab->FreeList;
                    slab->FreeList = obj;
                }
                s_partial[c] = slab;
                s_pagesInUse++;
            }
            void** o = (void**)slab->FreeList;
            slab->FreeList = *o;
            *o = null;                                     // the rest of a freed object was zeroed by Free
            int index = (int)(((byte*)o - ((byte*)slab + HeaderSize)) / ClassSize(c));
            slab->Allocated[index >> 6] |= 1ul << (index & 63);
            slab->InUse++;
            if (slab->FreeList == null) s_partial[c] = slab->NextPartial;
            s_bytesInUse += (ulong)ClassSize(c);
            return o;
        }

        static void* AllocateLarge(ulong size)
        {
            int order = 0;
            while ((Page << order) < size + HeaderSize) order++;
            if (order > PageAllocator.MaxOrder) return null;
            var block = (Header*)PageZeroed(order);
            if (block == null) return null;
            block->Magic = LargeMagic;
            block->SizeClass = order;
            s_pagesInUse += 1ul << order;
            s_bytesInUse += Page << order;
            return (byte*)block + HeaderSize;
        }

        // Returns false (and changes nothing) for a pointer this heap did not hand out.
        public static bool Free(void* p)
        {
            if (p == null) return false;
            var h = (Header*)((ulong)p & ~(Page - 1));
            if (h->Magic == LargeMagic && (byte*)p == (byte*)h + HeaderSize)
            {
                int order = h->SizeClass;
                h->Magic = 0;
                PhysicalMemory.FreePages(DirectMap.ToPhysical(h), order);
                s_pagesInUse -= 1ul << order;
                s_bytesInUse -= Page << order;
                s_frees++;
                return true;
            }
            if (h->Magic != SlabMagic) return false;
            int c = h->SizeClass, size = ClassSize(c);
            long offset = (byte*)p - ((byte*)h + HeaderSize);
            if (offset < 0 || offset % size != 0 || offset / size >= h->Capacity) return false;
            int index = (int)(offset / size);
            ulong bit = 1ul << (index & 63);
            if ((h->Allocated[index >> 6] & bit) == 0) return false;   // not handed out: a double free
            h->Allocated[index >> 6] &= ~bit;
            Memory.Fill((byte*)p, 0, (nuint)size);
            bool wasFull = h->FreeList == null;
            *(void**)p = h->FreeList;
            h->FreeList = p;
            h->InUse--;
            s_bytesInUse -= (ulong)size;
            s_frees++;
            if (h->InUse == 0)
            {
                // An empty slab goes back to the page allocator.
                Unlink(h, c);
                h->Magic = 0;
                PhysicalMemory.FreePages(DirectMap.ToPhysical(h), 0);
                s_pagesInUse--;
            }
            else if (wasFull)
            {
                h->NextPartial = s_partial[c];
                s_partial[c] = h;
            }
            return true;
        }

        static void Unlink(Header* slab, int c)
        {
            Header** link = &s_partial[c];
            while (*link != null && *link != slab) link = &(*link)->NextPartial;
            if (*link == slab) *link = slab->NextPartial;
        }

        static void* PageZeroed(int order)
        {
            ulong phys = PhysicalMemory.AllocatePages(order, true);
            return phys == 0 ? null : DirectMap.ToVirtual(phys);
        }
    }
}
