// The first chunk, built at boot (seeds 002 and 003): one unit per possible CPU at
// PerCpuBase + cpu * UnitStride, each holding a copy of the static per-CPU section.
// Only the pages that hold data are mapped — the rest of each unit's virtual range
// costs nothing — and both the pages and the page tables that map them come from
// bootmem, because this runs before any other allocator exists.
//
// The local window: each CPU's private PML4 slot points at a PDPT whose first entry is
// the page directory that maps that CPU's own unit in the global region. So a this-CPU
// access is a plain access at LocalWindowBase + offset, on every CPU the same address,
// and any page mapped into a unit later appears in its CPU's window without a second
// mapping (units are 1 GiB aligned, so a unit's first GiB is one page directory).
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class FirstChunk
    {
        const ulong Page = AddressSpace.PageSize;
        const int PdptLevel = 2;
        const int GibShift = 30;

        public static PerCpuUnitLayout Layout;
        public static bool Ready;                   // every unit mapped: this-CPU access works

        public static void Build(int possibleCpus)
        {
            KernelCommandLine cmdline = Boot.Options;
            string error = PerCpuLayout.ReadOptions(cmdline, out ulong unitVm, out ulong reserved, out string badOption);
            if (error != null)
            {
                Log.Warn($"percpu: warning: {badOption}: {error}; the defaults are used");
                unitVm = PerCpuLayout.DefaultUnitVm;
                reserved = PerCpuLayout.DefaultReserved;
            }
            PerCpuImage image = PerCpuImage.Current;
            if (!image.MatchesGeneratedLayout) Panic.Fail("percpu: the linked .data..percpu section does not match the generated layout");
            string wrongType = PerCpuStatic.VerifyTypeSizes();
            if (wrongType != null) Panic.Fail($"percpu: {wrongType}: the compiler's size of its type is not the size the build laid out");
            error = PerCpuLayout.Build(image.Size, reserved, unitVm, Page, possibleCpus, out Layout);
            if (error != null)
            {
                Log.Warn($"percpu: warning: {error}; the defaults are used");
                error = PerCpuLayout.Build(image.Size, PerCpuLayout.DefaultReserved, PerCpuLayout.DefaultUnitVm, Page, possibleCpus, out Layout);
                if (error != null) Panic.Fail($"percpu: {error}");
            }

            // One block for all units: one bootmem reservation however many CPUs there are.
            ulong block = PhysicalMemory.AllocateBoot((ulong)possibleCpus * Layout.CommittedBytes, "per-CPU units");
            for (int cpu = 0; cpu < possibleCpus; cpu++)
            {
                ulong unit = Layout.UnitBase(cpu);
                for (ulong i = 0; i < Layout.CommittedPages; i++)
                {
                    ulong phys = block + ((ulong)cpu * Layout.CommittedPages + i) * Page;
                    string mapError = KernelPageTables.Kernel.Map(unit + i * Page, phys, Page, Page, PageFlags.KernelReadWrite);
                    if (mapError != null) Panic.Fail($"percpu: mapping cpu {cpu}'s unit: {mapError}");
                    ulong copied = i * Page, bytes = image.Size - copied < Page ? image.Size - copied : Page;
                    Memory.Move(DirectMap.ToVirtual(phys), (byte*)image.Load + copied, (nuint)bytes);
                }
                OpenLocalWindow(cpu, 0);
                Cpus.NumberOn(cpu) = cpu;
            }
            FillPerCpuOffsets(possibleCpus);
            PerCpu.InstallGsBase(0);
            Ready = true;
            Log.Info(Layout.FormatLine());
        }

        // Linux's __per_cpu_offset[] for C modules and asm; C# computes the same constant.
        static void FillPerCpuOffsets(int possibleCpus)
        {
            KernelLayout k = KernelLayout.Current;
            if ((k.PerCpuOffsetEnd - k.PerCpuOffsetStart) / sizeof(ulong) < (ulong)possibleCpus)
                Panic.Fail("percpu: __per_cpu_offset[] has no room for every possible CPU");
            ulong* offsets = (ulong*)k.PerCpuOffsetStart;
            for (int cpu = 0; cpu < possibleCpus; cpu++) offsets[cpu] = PerCpuLayout.Offset(cpu);
        }

        // CPU cpu's local-window PDPT entry `gib` := the global PDPT entry that maps that
        // GiB of its unit (a page directory, once anything in that GiB is mapped).
        public static void OpenLocalWindow(int cpu, ulong gib)
        {
            PageTable k = KernelPageTables.Kernel;
            ulong* window = k.Entry(KernelPageTables.LocalWindowTables[cpu], (int)gib);
            if (*window != 0) return;
            ulong va = PerCpuLayout.UnitBase(cpu) + (gib << GibShift);
            ulong globalPdpt = *k.Entry(k.Root, AddressSpace.SlotOf(va)) & PageFlags.AddressMask;
            *window = *k.Entry(globalPdpt, PageTable.Index(va, PdptLevel));
        }
    }
}
