// The dynamic allocator's hardware side (PerCpuBackend): a page of a chunk means that
// page in every possible CPU's unit, mapped at UnitBase(cpu) + chunk * unit_vm + page *
// 4 KiB. Pages come zeroed from the page allocator; page tables are created by the
// mapping as needed and kept (kernel-half tables are shared by every CPU's PML4 and never
// freed), so a chunk whose range was used once costs its tables, not its pages, later.
//
// The local window aliases each unit's page directories (FirstChunk), one PDPT entry per
// GiB of the unit; a page in a unit GiB not aliased yet opens that entry. Unmapping must
// reach every CPU's TLB, for the global address and for the window alias: a page freed
// while another CPU still caches its translation could be written through it.
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal sealed unsafe class UnitPages : PerCpuBackend
    {
        const ulong Page = AddressSpace.PageSize;
        const int GibShift = 30;

        readonly int _cpus;
        readonly ulong _unitVm;

        public UnitPages(int possibleCpus, ulong unitVm)
        {
            _cpus = possibleCpus;
            _unitVm = unitVm;
        }

        // Nothing to prepare: tables appear with the first page mapped in the range.
        public override bool CreateChunk(int index) => true;
        public override void DestroyChunk(int index) { }

        public override bool Populate(int chunk, ulong firstPage, ulong pages)
        {
            ulong first = ChunkOffset(chunk) + firstPage * Page;
            for (int cpu = 0; cpu < _cpus; cpu++)
            {
                for (ulong p = 0; p < pages; p++)
                {
                    if (MapZeroedPage(cpu, first + p * Page)) continue;
                    // All or nothing: undo this CPU's pages so far, then every earlier CPU's.
                    Unmap(cpu, first, p);
                    for (int done = 0; done < cpu; done++) Unmap(done, first, pages);
                    FlushEverywhere(first, pages);
                    return false;
                }
            }
            return true;
        }

        public override void Depopulate(int chunk, ulong firstPage, ulong pages)
        {
            ulong first = ChunkOffset(chunk) + firstPage * Page;
            for (int cpu = 0; cpu < _cpus; cpu++) Unmap(cpu, first, pages);
            FlushEverywhere(first, pages);
        }

        ulong ChunkOffset(int chunk) => (ulong)chunk * _unitVm;

        bool MapZeroedPage(int cpu, ulong offset)
        {
            ulong phys = PhysicalMemory.AllocatePages(0, true);
            if (phys == 0) return false;
            ulong va = PerCpuLayout.UnitBase(cpu) + offset;
            if (KernelPageTables.Kernel.Map(va, phys, Page, Page, PageFlags.KernelReadWrite) != null)
            {
                PhysicalMemory.FreePages(phys, 0);
                return false;
            }
            FirstChunk.OpenLocalWindow(cpu, offset >> GibShift);
            return true;
        }

        // Unmaps `pages` pages from `offset` in cpu's unit and returns them to the page allocator.
        static void Unmap(int cpu, ulong offset, ulong pages)
        {
            PageTable k = KernelPageTables.Kernel;
            for (ulong p = 0; p < pages; p++)
            {
                ulong va = PerCpuLayout.UnitBase(cpu) + offset + p * Page;
                if (!k.Translate(va, out ulong phys, out _)) continue;
                k.Unmap(va, Page);
                PhysicalMemory.FreePages(phys, 0);
            }
        }

        struct FlushRange { public ulong Offset, Pages; public int Cpus; }

        void FlushEverywhere(ulong offset, ulong pages)
        {
            FlushRange r = new FlushRange { Offset = offset, Pages = pages, Cpus = _cpus };
            SmpCall.Call(SmpCall.AllCpus, &Flush, &r, true);
        }

        static void Flush(void* arg)
        {
            var r = (FlushRange*)arg;
            for (ulong p = 0; p < r->Pages; p++)
            {
                ulong offset = r->Offset + p * Page;
                Cpu.InvalidatePage(PerCpuLayout.LocalAddress(offset));
                for (int cpu = 0; cpu < r->Cpus; cpu++) Cpu.InvalidatePage(PerCpuLayout.UnitBase(cpu) + offset);
            }
        }
    }
}
