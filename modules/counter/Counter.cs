// A per-CPU counter other modules use: the variable itself (EXPORT_PER_CPU_SYMBOL) and a
// function that increments this CPU's copy (EXPORT_SYMBOL). modules/counter_user uses both.
//   percy> insmod counter          counter: loaded, 1 hit so far (on cpu 0)
//   percy> rmmod counter           counter: 5 hits in all
using System.Runtime;
using Percy.Kernel.Percpu;
using Percy.Module;

[assembly: ModuleInfo(Description = "A per-CPU counter, exported with the function that increments it", Author = "Percy", License = "MIT")]

namespace Percy.Modules.Counter
{
    internal static unsafe partial class CounterModule
    {
        // per_cpu__Percy_Modules_Counter_CounterModule__Hits: one long per CPU.
        [DefinePerCpu, ExportPerCpu] internal static partial ref long Hits { get; }

        // This CPU's Hits += 1: one load of the module's per-CPU base, one `inc` (docs/modules.md).
        [RuntimeExport("counter_this_cpu_inc")]
        static void ThisCpuInc() => Hits++;

        // Every possible CPU's count, added up through their global addresses.
        [RuntimeExport("counter_sum")]
        static long Sum()
        {
            long sum = 0;
            for (int cpu = 0; cpu < KernelApi.NrCpuIds; cpu++)
                if (KernelApi.CpuPossible(cpu)) sum += HitsOn(cpu);
            return sum;
        }

        [ModuleInit]
        internal static int Init()
        {
            ThisCpuInc();
            KernelApi.Log($"loaded, {Sum()} hit so far (on cpu {KernelApi.ThisCpu})");
            return 0;
        }

        [ModuleExit]
        internal static void Exit() => KernelApi.Log($"{Sum()} hits in all");
    }
}
