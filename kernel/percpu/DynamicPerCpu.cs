// alloc_percpu / free_percpu for the kernel and modules: the pure allocator
// (PerCpuAllocator) over this machine's units (UnitPages), one lock around both, and the
// zeroing that alloc_percpu promises. A handle is an offset in every CPU's unit:
//   per_cpu_ptr(h, cpu) = Ptr(h, cpu) = UnitBase(cpu) + h      (global: may be handed on)
//   this_cpu_ptr(h)     = ThisCpuPtr(h) = LocalBase + h         (this CPU only)
// Both are arithmetic on constants: no table of offsets is loaded.
//
// Every failure logs one line (`percpu: error: <reason>`) and changes nothing, so the
// statistics after a refused request equal those before it.
using System.Runtime.CompilerServices;
using Percy.Kernel.Mm;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class DynamicPerCpu
    {
        const ulong SmallArea = 64;                     // bytes: cleared granule by granule, inline

        static PerCpuAllocator s_allocator;
        static UnitPages s_pages;
        static int s_lock;

        public static PerCpuAllocator Allocator => s_allocator;

        // Frames of depopulated pages that wait for a TLB shootdown (UnitPages).
        public static int WaitingFrames => s_pages.WaitingFrames;

        // After the first chunk and the page allocator: the first chunk's static pages are
        // populated already.
        public static void Init()
        {
            PerCpuUnitLayout layout = FirstChunk.Layout;
            s_pages = new UnitPages(layout.Units, layout.UnitVm);
            string error = PerCpuAllocator.Create(layout, layout.CommittedPages, s_pages, out s_allocator);
            if (error != null) Panic.Fail($"percpu: dynamic allocator: {error}");
        }

        // Pages really mapped in CPU cpu's unit, over every chunk index in use: a walk of
        // the page tables, for `percpu` and for the self-tests that compare it with the
        // allocator's PopulatedPages.
        public static ulong MappedPages(int cpu)
        {
            ulong mapped = 0, end = (ulong)s_allocator.ChunkIndexLimit * s_allocator.UnitVm;
            for (ulong offset = 0; offset < end; offset += AddressSpace.PageSize)
                if (KernelPageTables.Kernel.Translate(PerCpuLayout.GlobalAddress(cpu, offset), out _, out _)) mapped++;
            return mapped;
        }

        public static ulong* Ptr(ulong handle, int cpu) => (ulong*)PerCpuLayout.GlobalAddress(cpu, handle);
        public static void* ThisCpuPtr(ulong handle) => (void*)PerCpuLayout.LocalAddress(handle);

        // alloc_percpu(size, align): zeroed on every possible CPU. atomic: only already
        // populated pages, nothing mapped (for contexts that must not map memory).
        public static string Alloc(ulong size, ulong align, bool atomic, out ulong handle)
        {
            ulong flags = SpinLock.LockIrqSave(LockPointer);
            string error = s_allocator.Allocate(size, align, atomic, out handle, out bool clean);
            SpinLock.UnlockIrqRestore(LockPointer, flags);
            if (error != null) return AllocRefused(error, size);
            if (!clean) ZeroOnEveryCpu(handle, size);
            return null;
        }

        // From the reserved part (percpu.reserved=), as Linux gives module sections.
        public static string AllocReserved(ulong size, ulong align, out ulong handle)
        {
            ulong flags = SpinLock.LockIrqSave(LockPointer);
            string error = s_allocator.AllocateReserved(size, align, out handle);
            SpinLock.UnlockIrqRestore(LockPointer, flags);
            if (error != null) return AllocRefused(error, size);
            ZeroOnEveryCpu(handle, size);
            return null;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static string Free(ulong handle)
        {
            ulong flags = SpinLock.LockIrqSave(LockPointer);
            string error = s_allocator.Free(handle);
            SpinLock.UnlockIrqRestore(LockPointer, flags);
            return error == null ? null : FreeRefused(error, handle);
        }

        // Frees the frames of depopulated pages that wait for a TLB shootdown (UnitPages.Purge).
        public static void PurgeWaitingFrames()
        {
            ulong flags = SpinLock.LockIrqSave(LockPointer);
            s_pages.Purge();
            SpinLock.UnlockIrqRestore(LockPointer, flags);
        }

        // The log lines live in their own methods: a formatted line is a large stack
        // buffer, which a method zeroes on every call, failing or not.
        [MethodImpl(MethodImplOptions.NoInlining)]
        static string AllocRefused(string error, ulong size)
        {
            Log.Warn($"percpu: error: alloc {size} bytes: {error}");
            return error;
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        static string FreeRefused(string error, ulong handle)
        {
            Log.Warn($"percpu: error: free 0x{handle:x}: {error}");
            return error;
        }

        static int* LockPointer { get { fixed (int* l = &s_lock) return l; } }

        // A reused area holds its last owner's bytes: clear it in every CPU's unit. The
        // area is the caller's alone now, so this needs no lock. It is whole 4-byte granules
        // (the allocator's unit), so a small area is cleared in place, 8 bytes at a time
        // where aligned: a call to Memory.Fill per CPU costs more than clearing 8 bytes.
        static void ZeroOnEveryCpu(ulong handle, ulong size)
        {
            int cpus = FirstChunk.Layout.Units;
            byte* area = (byte*)PerCpuLayout.GlobalAddress(0, handle);
            if (size > SmallArea)
            {
                for (int cpu = 0; cpu < cpus; cpu++, area += PerCpuLayout.UnitStride) Memory.Fill(area, 0, (nuint)size);
                return;
            }
            ulong bytes = (size + PerCpuLayout.MinAllocSize - 1) & ~(PerCpuLayout.MinAllocSize - 1);
            ulong head = handle & sizeof(uint);             // a granule before the first 8-byte boundary
            for (int cpu = 0; cpu < cpus; cpu++, area += PerCpuLayout.UnitStride)
            {
                if (head != 0) *(uint*)area = 0;
                ulong i = head;
                for (; i + sizeof(ulong) <= bytes; i += sizeof(ulong)) *(ulong*)(area + i) = 0;
                if (i < bytes) *(uint*)(area + i) = 0;
            }
        }
    }
}
