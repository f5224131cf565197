// Shell: `percpu` shows the first chunk's layout (the boot log line) and, per possible
// CPU, where its unit lives and how many of the unit's pages are mapped — the memory
// per-CPU data really costs, which only grows when something is stored there, and the
// frames of unmapped pages that wait for a TLB shootdown (UnitPages).
// `percpu stats|alloc|free|bench` drive the dynamic allocator (DynamicPerCpu).
using Percy.Kernel.Arch;
using Percy.Kernel.Shell;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class PerCpuCommands
    {
        const ulong DefaultAlign = 8;
        const ulong BenchSize = 8;

        public static void Register() =>
            Shell.Shell.Register("percpu", "percpu [stats | alloc SIZE [ALIGN] | free HANDLE | bench N]",
                "per-CPU units and the dynamic allocator (no argument: each CPU's unit base and mapped pages)", &Run);

        static void Run(ShellArguments* args)
        {
            if (args->Count == 1) ShowUnits();
            else if (args->Is(1, "stats") && args->Count == 2) ShowStats();
            else if (args->Is(1, "alloc") && (args->Count == 3 || args->Count == 4)) Alloc(args);
            else if (args->Is(1, "free") && args->Count == 3) Free(args);
            else if (args->Is(1, "bench") && args->Count == 3) Bench(args);
            else Shell.Shell.Error(args, "usage: percpu [stats | alloc SIZE [ALIGN] | free HANDLE | bench N]");
        }

        static void ShowStats()
        {
            PerCpuAllocator a = DynamicPerCpu.Allocator;
            Console.Console.WriteLine(a.FormatStats());
            for (int k = 0; k < a.ChunkIndexLimit; k++)
                if (a.ChunkExists(k)) Console.Console.WriteLine(a.FormatChunkLine(k));
            Console.Console.WriteLine(a.FormatReservedLine());
        }

        static void Alloc(ShellArguments* args)
        {
            ulong align = DefaultAlign;
            if (!args->TryGetNumber(2, out ulong size) || (args->Count == 4 && !args->TryGetNumber(3, out align)))
            {
                Shell.Shell.Error(args, "SIZE and ALIGN are numbers (decimal or 0x hex)");
                return;
            }
            if (DynamicPerCpu.Alloc(size, align, false, out ulong handle) == null)
                Console.Console.WriteLine($"percpu: allocated 0x{handle:x} ({size} bytes, align {align}) on every CPU");
        }

        static void Free(ShellArguments* args)
        {
            if (!args->TryGetNumber(2, out ulong handle))
            {
                Shell.Shell.Error(args, "HANDLE is a number (decimal or 0x hex), as `percpu alloc` printed it");
                return;
            }
            if (DynamicPerCpu.Free(handle) == null) Console.Console.WriteLine($"percpu: freed 0x{handle:x}");
        }

        // N allocations of 8 bytes, then N frees, each phase timed as a whole (Linux's
        // allocbench module does the same with __alloc_percpu(8, 8) and free_percpu).
        static void Bench(ShellArguments* args)
        {
            const ulong MaxN = 1_000_000;
            if (!args->TryGetNumber(2, out ulong n) || n == 0 || n > MaxN)
            {
                Shell.Shell.Error(args, "N is a number from 1 to 1000000");
                return;
            }
            var handles = (ulong*)Heap.Allocate(n * sizeof(ulong));
            ulong made = 0;
            ulong start = Clock.NanosecondsSinceBoot();
            while (made < n && DynamicPerCpu.Alloc(BenchSize, BenchSize, false, out handles[made]) == null) made++;
            ulong allocNs = Clock.NanosecondsSinceBoot() - start;
            start = Clock.NanosecondsSinceBoot();
            for (ulong i = 0; i < made; i++) DynamicPerCpu.Free(handles[i]);
            ulong freeNs = Clock.NanosecondsSinceBoot() - start;
            Heap.Free(handles);
            if (made < n) Console.Console.WriteLine($"percpu-bench: error: only {made} of {n} allocations succeeded");
            else Console.Console.WriteLine($"percpu-bench: n={n} alloc_ns={allocNs} free_ns={freeNs}");
        }

        static void ShowUnits()
        {
            PerCpuUnitLayout layout = FirstChunk.Layout;
            Console.Console.WriteLine(layout.FormatLine());
            Console.Console.WriteLine($"this cpu's unit is also at 0x{PerCpuLayout.LocalBase:x16} (the local window)");
            Console.Console.WriteLine($"{"cpu",4} {"unit base",-18} {"mapped pages",12}");
            for (int cpu = 0; cpu < layout.Units; cpu++)
                Console.Console.WriteLine($"{cpu,4} 0x{layout.UnitBase(cpu):x16} {DynamicPerCpu.MappedPages(cpu),12}");
            Console.Console.WriteLine($"frames of unmapped pages waiting for a TLB shootdown: {DynamicPerCpu.WaitingFrames} (at most {UnitPages.DeferredFrames})");
        }
    }
}
