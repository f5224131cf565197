// Uses what modules/counter exports: its per-CPU variable, declared here by symbol
// (DECLARE_PER_CPU), and its increment function, imported by name. Init increments the
// counter on every online CPU (through smp_call_function) and checks, CPU by CPU, that
// counter's function and this module's own view of the variable saw the same copies.
// It also reads a per-CPU variable of the kernel's, declared the same way.
// The loader records the dependency: counter cannot be unloaded while this module is loaded.
using System.Runtime;
using System.Runtime.CompilerServices;
using Percy.Module;

[assembly: ModuleInfo(Description = "Increments counter's per-CPU counter on every CPU and checks each copy", Author = "Percy", License = "MIT")]

namespace Percy.Modules.CounterUser
{
    internal static unsafe partial class CounterUserModule
    {
        [DeclarePerCpu("per_cpu__Percy_Modules_Counter_CounterModule__Hits")]
        internal static partial ref long Hits { get; }

        // The kernel's (kernel/percpu/PerCpuExamples.cs): MagicValue on every CPU.
        [DeclarePerCpu("per_cpu__Percy_Kernel_Percpu_PerCpuExamples__Magic")]
        internal static partial ref long KernelMagic { get; }
        const long KernelMagicValue = 0x5045524359;

        static int s_wrongMagic;                 // CPUs whose copy of KernelMagic was wrong

        [RuntimeImport("*", "counter_this_cpu_inc")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void CounterThisCpuInc();

        [RuntimeImport("*", "counter_sum")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern long CounterSum();

        // Each CPU: counter's function, then this module's own this-CPU access, which must
        // land in the same copy: +2 on every online CPU. And this CPU's copy of the kernel's Magic.
        static void IncrementHere(void* unused)
        {
            CounterThisCpuInc();
            Hits++;
            if (KernelMagic != KernelMagicValue)
                fixed (int* wrong = &s_wrongMagic) KernelApi.AtomicAdd(wrong, 1);
        }

        [ModuleInit]
        internal static int Init()
        {
            const int PerCpu = 2;
            int cpus = KernelApi.NrCpuIds;
            long* before = stackalloc long[cpus];
            for (int cpu = 0; cpu < cpus; cpu++) before[cpu] = KernelApi.CpuPossible(cpu) ? HitsOn(cpu) : 0;
            long sumBefore = CounterSum();

            int error = KernelApi.SmpCallFunction(KernelApi.AllCpus, &IncrementHere, null, wait: true);
            if (error != 0) return error;

            int online = 0;
            for (int cpu = 0; cpu < cpus; cpu++)
            {
                if (!KernelApi.CpuOnline(cpu)) continue;
                online++;
                if (HitsOn(cpu) != before[cpu] + PerCpu)
                {
                    KernelApi.Error($"cpu {cpu}: counter's copy went from {before[cpu]} to {HitsOn(cpu)}, expected +{PerCpu}");
                    return -Errno.EIO;
                }
            }

            if (s_wrongMagic != 0)
            {
                KernelApi.Error($"the kernel's per-CPU Magic was wrong on {s_wrongMagic} CPUs");
                return -Errno.EIO;
            }

            long sum = CounterSum();
            if (sum != sumBefore + PerCpu * online)
            {
                KernelApi.Error($"counter_sum went from {sumBefore} to {sum}, expected +{PerCpu * online}");
                return -Errno.EIO;
            }

            KernelApi.Log($"incremented counter on {online} CPUs: sum {sum}, offset 0x{HitsOffset:x}");
            return 0;
        }
    }
}
