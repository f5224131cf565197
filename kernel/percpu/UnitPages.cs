// The dynamic allocator's hardware side (PerCpuBackend): a page of a chunk means that
// page in every possible CPU's unit, mapped at UnitBase(cpu) + chunk * unit_vm + page *
// 4 KiB. Pages come zeroed from the page allocator; page tables are created by the
// mapping as needed and kept (kernel-half tables are shared by every CPU's PML4 and never
// freed), so a chunk whose range was used once costs its tables, not its pages, later.
//
// The local window aliases each unit's page directories (FirstChunk), one PDPT entry per
// GiB of the unit; a page in a unit GiB not aliased yet opens that entry.
//
// Unmapping and the TLB (Linux's lazy vunmap purge, in small). A page's frame may only be
// reused once no CPU's TLB can still translate to it, for the global address or the
// window alias, and reaching every CPU's TLB takes an IPI to every CPU and a wait for all
// of them: under QEMU's TCG about a millisecond, the cost of thousands of allocations. So
// Depopulate clears the page-table entries at once (the tables always show exactly the
// populated pages) but keeps the frames: they wait, up to DeferredFrames of them, and one
// IPI then flushes every CPU's TLB for all of them before they go back to the page
// allocator. Meanwhile a stale translation can only reach a frame nobody else owns.
// Populating a page whose frames still wait maps those same frames again (cleared): a
// stale translation then still leads to the right frame, and no IPI is needed.
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal sealed unsafe class UnitPages : PerCpuBackend
    {
        const ulong Page = AddressSpace.PageSize;
        const int GibShift = 30;
        // Frames that may wait for one TLB shootdown: 1 MiB held back at most, however
        // many CPUs there are (at -smp 4, 64 depopulated pages per IPI instead of one).
        public const int DeferredFrames = 256;

        readonly int _cpus;
        readonly ulong _unitVm;
        readonly int _deferredPages;               // pages (each in every unit) that may wait
        readonly ulong[] _deferredOffsets;         // unit offsets of the waiting pages
        readonly ulong[] _deferredFrames;          // [i * cpus + cpu]: page i's frame in cpu's unit, 0 if none
        int _deferred;

        public UnitPages(int possibleCpus, ulong unitVm)
        {
            _cpus = possibleCpus;
            _unitVm = unitVm;
            _deferredPages = DeferredFrames / possibleCpus > 0 ? DeferredFrames / possibleCpus : 1;
            _deferredOffsets = new ulong[_deferredPages];
            _deferredFrames = new ulong[_deferredPages * possibleCpus];
        }

        // Frames unmapped but not yet returned to the page allocator (`percpu`, self-tests).
        public int WaitingFrames
        {
            get
            {
                int frames = 0;
                for (int i = 0; i < _deferred * _cpus; i++) if (_deferredFrames[i] != 0) frames++;
                return frames;
            }
        }

        // Nothing to prepare: tables appear with the first page mapped in the range.
        public override bool CreateChunk(int index) => true;
        public override void DestroyChunk(int index) { }

        public override bool Populate(int chunk, ulong firstPage, ulong pages)
        {
            ulong first = ChunkOffset(chunk) + firstPage * Page, end = first + pages * Page;
            for (ulong offset = first; offset < end; offset += Page)
            {
                if (Remap(offset)) continue;
                for (int cpu = 0; cpu < _cpus; cpu++)
                {
                    if (MapZeroedPage(cpu, offset)) continue;
                    // All or nothing: unmap what this call mapped, and return the frames now.
                    for (ulong done = first; done <= offset; done += Page) Retire(done);
                    FlushDeferred();
                    return false;
                }
            }
            return true;
        }

        public override void Depopulate(int chunk, ulong firstPage, ulong pages)
        {
            ulong first = ChunkOffset(chunk) + firstPage * Page;
            for (ulong p = 0; p < pages; p++) Retire(first + p * Page);
        }

        ulong ChunkOffset(int chunk) => (ulong)chunk * _unitVm;

        bool MapZeroedPage(int cpu, ulong offset)
        {
            ulong phys = PhysicalMemory.AllocatePages(0, true);
            if (phys == 0) return false;
            if (!MapFrame(cpu, offset, phys))
            {
                PhysicalMemory.FreePages(phys, 0);
                return false;
            }
            return true;
        }

        bool MapFrame(int cpu, ulong offset, ulong phys)
        {
            ulong va = PerCpuLayout.UnitBase(cpu) + offset;
            if (KernelPageTables.Kernel.Map(va, phys, Page, Page, PageFlags.KernelReadWrite) != null) return false;
            FirstChunk.OpenLocalWindow(cpu, offset >> GibShift);
            return true;
        }

        // If the page at `offset` is waiting for a shootdown, maps its frames again,
        // cleared, and takes it off the list. Every unit had the page (Depopulate retires
        // whole pages) and its tables are still there, so this cannot fail.
        bool Remap(ulong offset)
        {
            int i = 0;
            while (i < _deferred && _deferredOffsets[i] != offset) i++;
            if (i == _deferred) return false;
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                ulong frame = _deferredFrames[i * _cpus + cpu];
                Memory.Fill(DirectMap.ToVirtual(frame), 0, (nuint)Page);
                MapFrame(cpu, offset, frame);
            }
            // The last waiting page takes its place.
            _deferred--;
            _deferredOffsets[i] = _deferredOffsets[_deferred];
            for (int cpu = 0; cpu < _cpus; cpu++) _deferredFrames[i * _cpus + cpu] = _deferredFrames[_deferred * _cpus + cpu];
            return true;
        }

        // Unmaps the page at `offset` in every unit; its frames wait for the next shootdown.
        void Retire(ulong offset)
        {
            if (_deferred == _deferredPages) FlushDeferred();
            PageTable k = KernelPageTables.Kernel;
            bool any = false;
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                // One walk: the 4 KiB entry gives the frame and is cleared.
                ulong* entry = k.Walk(PerCpuLayout.UnitBase(cpu) + offset, out int level);
                ulong frame = 0;
                if (entry != null && level == 0)
                {
                    frame = *entry & PageFlags.AddressMask;
                    *entry = 0;
                    any = true;
                }
                _deferredFrames[_deferred * _cpus + cpu] = frame;
            }
            if (any) _deferredOffsets[_deferred++] = offset;
        }

        // Returns every waiting frame now (one shootdown): for callers that hand back a lot at
        // once and must leave the page allocator as they found it (module unload).
        public void Purge() => FlushDeferred();

        struct FlushList { public ulong* Offsets; public int Pages, Cpus; }

        // One IPI: every CPU drops its translations of the waiting pages; then their
        // frames go back to the page allocator.
        void FlushDeferred()
        {
            if (_deferred == 0) return;
            fixed (ulong* offsets = _deferredOffsets)
            {
                FlushList list = new FlushList { Offsets = offsets, Pages = _deferred, Cpus = _cpus };
                SmpCall.Call(SmpCall.AllCpus, &Flush, &list, true);
            }
            for (int i = 0; i < _deferred * _cpus; i++)
                if (_deferredFrames[i] != 0) PhysicalMemory.FreePages(_deferredFrames[i], 0);
            _deferred = 0;
        }

        static void Flush(void* arg)
        {
            var list = (FlushList*)arg;
            for (int i = 0; i < list->Pages; i++)
            {
                ulong offset = list->Offsets[i];
                Cpu.InvalidatePage(PerCpuLayout.LocalAddress(offset));
                for (int cpu = 0; cpu < list->Cpus; cpu++) Cpu.InvalidatePage(PerCpuLayout.UnitBase(cpu) + offset);
            }
        }
    }
}
