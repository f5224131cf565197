// The two probes of issue 5, exported under plain symbol names so `objdump -d` can show
// what the generated accessors compile to:
//   percpu_probe_this_cpu_inc     this CPU's ProbeCounter++ through the local window:
//                                 one instruction touches the variable, no call
//   percpu_probe_per_cpu_addr     the global address of CPU `cpu`'s ProbeCounter:
//                                 constants and a shift, no memory load
//   percpu_probe_this_cpu_cmpxchg this CPU's ProbeCounter through this_cpu_cmpxchg:
//                                 the intrinsic inlined, one lock cmpxchg
using System.Runtime;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class PerCpuProbes
    {
        [RuntimeExport("percpu_probe_this_cpu_inc")]
        static void ThisCpuInc() => PerCpuExamples.ProbeCounter++;

        [RuntimeExport("percpu_probe_this_cpu_cmpxchg")]
        static long ThisCpuCmpxchg(long expected, long value) => ThisCpu.CompareExchange(ref PerCpuExamples.ProbeCounter, expected, value);

        [RuntimeExport("percpu_probe_per_cpu_addr")]
        static ulong PerCpuAddr(int cpu) => (ulong)PerCpuExamples.ProbeCounterPointer(cpu);
    }
}
