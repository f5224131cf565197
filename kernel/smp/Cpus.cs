// Which CPUs exist, by logical number. Linux's model:
//   possible  every CPU that can ever run: MADT local APIC / x2APIC entries that are
//             enabled or online-capable. nr_cpu_ids = highest possible number + 1, and
//             per-CPU structures (PML4s, PerCpu areas) exist for all of them.
//   present   possible CPUs that are there now: the MADT's enabled ones.
//   online    CPUs running kernel code: the boot CPU and every AP that arrived.
// The boot CPU is number 0 whatever its APIC id; the others follow in MADT order.
// `maxcpus=N` on the kernel command line starts at most N CPUs (the boot CPU counts);
// the rest stay possible and present, but offline. `smp.skip_sipi=N` is fault injection
// for tests: CPU N is never sent its startup IPIs, so it never arrives, and the path that
// logs a CPU which did not come up and leaves it offline runs on a machine where none fails.
using Percy.Kernel.Acpi;
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;
using Percy.Kernel.Percpu;

namespace Percy.Kernel.Smp
{
    // A bit per logical CPU, in heap memory (so it never moves and can be updated atomically).
    internal sealed unsafe class CpuMask
    {
        public const int MaxCpus = MadtInfo.MaxCpus;
        const int Words = MaxCpus / 64;
        readonly ulong* _bits = (ulong*)Heap.Allocate(Words * sizeof(ulong));

        public bool Has(int cpu) => (_bits[cpu >> 6] >> (cpu & 63) & 1) != 0;
        public void Set(int cpu) => Atomic.Or(&_bits[cpu >> 6], 1ul << (cpu & 63));
        public void Clear(int cpu) => Atomic.And(&_bits[cpu >> 6], ~(1ul << (cpu & 63)));

        public int Count
        {
            get
            {
                int n = 0;
                for (int w = 0; w < Words; w++)
                    for (ulong b = _bits[w]; b != 0; b &= b - 1) n++;
                return n;
            }
        }
    }

    internal static unsafe partial class Cpus
    {
        // smp_processor_id(): each CPU's logical number in its own unit (Linux's
        // cpu_number), read through the local window with one load. Before the first
        // chunk exists only the boot CPU runs, so the answer is 0 without a read.
        [DefinePerCpu] internal static partial ref int Number { get; }
        public static int ThisCpu => FirstChunk.Ready ? Number : 0;

        // Created in InitBootCpu (no static initialisers: the runtime runs no class constructors).
        public static CpuMask Possible, Present, Online;
        public static int NrCpuIds = 1;               // logical numbers are 0 .. NrCpuIds-1
        public static int MaxCpus = CpuMask.MaxCpus;  // from maxcpus=
        public static int SkipStartupCpu = -1;        // from smp.skip_sipi= (tests only)
        static PerCpu** s_areas;
        const ulong BootStackSize = 64 * 1024;        // KERNEL_STACK_SIZE in boot.asm

        public static int PossibleCount => Possible.Count;
        public static int PresentCount => Present.Count;
        public static int OnlineCount => Online.Count;
        public static PerCpu* Area(int cpu) => cpu >= 0 && cpu < NrCpuIds ? s_areas[cpu] : null;
        public static PerCpu* ThisArea => s_areas == null ? null : s_areas[ThisCpu];

        // Boot CPU, early (before ACPI): a per-CPU area and GS base, so Boot.CpuId works from
        // here on. Its APIC id is filled in by Discover.
        public static void InitBootCpu()
        {
            Possible = new CpuMask();
            Present = new CpuMask();
            Online = new CpuMask();
            s_areas = (PerCpu**)Heap.Allocate(CpuMask.MaxCpus * (ulong)sizeof(PerCpu*));
            s_areas[0] = PerCpu.Create(0, 0);
            s_areas[0]->State = (int)CpuState.Online;
            s_areas[0]->StackBottom = KernelLayout.Current.BootStackGuard + AddressSpace.PageSize;
            s_areas[0]->StackTop = s_areas[0]->StackBottom + BootStackSize;
            Possible.Set(0);
            Present.Set(0);
            Online.Set(0);
        }

        // From the MADT, after the LAPIC is up (the boot CPU's APIC id tells which entry is
        // ours). pageTableRoots: how many CPUs KernelPageTables built a PML4 for.
        public static void Discover(MadtInfo madt, int pageTableRoots)
        {
            PerCpu* bsp = s_areas[0];
            bsp->ApicId = Apic.CurrentId();
            ReadMaxCpus();
            if (madt == null) { Log.Info("smp: no MADT: only the boot CPU"); return; }

            bool bspListed = false;
            for (int i = 0; i < madt.CpuCount; i++)
                if (madt.Cpus[i].ApicId == bsp->ApicId && madt.Cpus[i].Usable) bspListed = true;
            if (!bspListed) Log.Warn($"smp: warning: the boot CPU (APIC id {bsp->ApicId}) is not in the MADT");

            int n = 1, dropped = 0;
            for (int i = 0; i < madt.CpuCount; i++)
            {
                MadtCpu c = madt.Cpus[i];
                if (!c.Usable || c.ApicId == bsp->ApicId) continue;
                if (n >= pageTableRoots) { dropped++; continue; }
                PerCpu* p = PerCpu.Create(n, c.ApicId);
                p->State = (int)(c.Enabled ? CpuState.Offline : CpuState.NotPresent);
                s_areas[n] = p;
                Possible.Set(n);
                if (c.Enabled) Present.Set(n);
                n++;
            }
            NrCpuIds = n;
            if (dropped > 0) Log.Warn($"smp: warning: {dropped} CPUs beyond the {pageTableRoots} with page tables ignored");
            Log.Info($"smp: {PossibleCount} possible CPUs, {PresentCount} present, nr_cpu_ids={NrCpuIds}, boot CPU APIC id {bsp->ApicId}{(MaxCpus < NrCpuIds ? " (maxcpus limits start-up)" : "")}");
        }

        static void ReadMaxCpus()
        {
            KernelCommandLine cmdline = Boot.Options;
            if (cmdline.TryGetUInt("maxcpus", 0, CpuMask.MaxCpus, out uint max, out string error))
            {
                // maxcpus=0 means "no secondary CPUs", as in Linux: the boot CPU always runs.
                MaxCpus = max == 0 ? 1 : (int)max;
                Log.Info($"smp: maxcpus={max}: at most {MaxCpus} CPUs started");
            }
            else if (error != null) Log.Warn($"smp: warning: maxcpus: {error}; ignored");
            if (cmdline.TryGetUInt("smp.skip_sipi", 1, CpuMask.MaxCpus - 1, out uint skip, out error))
            {
                SkipStartupCpu = (int)skip;
                Log.Warn($"smp: warning: smp.skip_sipi={skip}: cpu {skip} gets no startup IPI (fault injection)");
            }
            else if (error != null) Log.Warn($"smp: warning: smp.skip_sipi: {error}; ignored");
        }

        // Called by each AP once it is ready to take interrupts.
        public static void MarkOnline(PerCpu* cpu)
        {
            Online.Set(cpu->Number);
            cpu->State = (int)CpuState.Online;
        }

        public static string StateName(int state) => state switch
        {
            (int)CpuState.NotPresent => "not-present",
            (int)CpuState.Offline => "offline",
            (int)CpuState.Starting => "starting",
            (int)CpuState.Online => "online",
            (int)CpuState.Failed => "failed",
            _ => "?",
        };
    }
}
