// Module reference counts, as seed 004 proposed them for Linux: one counter per CPU, so a
// reference taken on one CPU and dropped on another writes no shared cache line, and only
// the sum over the possible CPUs means anything.
//
//   try_module_get   interrupts off; if the module is not going, this CPU's counter += 1
//   module_put       this CPU's counter -= 1 (it may go negative: the sum is what counts)
//   module_refcount  the sum of every possible CPU's counter
//
// Unloading (ModuleLoader.Unload) sets Going, then makes every online CPU take an
// interrupt (an empty smp_call_function, waited for). A try_module_get runs with
// interrupts off, so once every CPU has taken that interrupt, each get either finished
// before Going was seen, and is in its CPU's counter, or saw Going and failed: no new
// reference can appear. From then on counters only fall, so a sum read as 0 is exactly
// 0 and stays 0; a sum above 0 means busy, and Going is cleared again (rmmod refuses) or
// kept while `rmmod --wait` waits for it to fall.
//
// The counter is 8 bytes in every possible CPU's unit from the dynamic per-CPU allocator
// (DynamicPerCpu): nr_cpu_ids x 8 bytes per module, not NR_CPUS x a cache line.
// `struct percy_module *` in a module is the address of this structure.
using Percy.Kernel.Percpu;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Modules
{
    internal unsafe struct ModuleRefcount
    {
        public const ulong CounterSize = sizeof(long);

        public volatile int Going;
        public ulong Counter;          // DynamicPerCpu handle of the per-CPU long

        // try_module_get: false once the module is going away.
        public static bool TryGet(ModuleRefcount* m)
        {
            ulong flags = Irq.Save();
            bool live = m->Going == 0;
            if (live) (*(long*)DynamicPerCpu.ThisCpuPtr(m->Counter))++;
            Irq.Restore(flags);
            return live;
        }

        // module_put. Interrupts off: an interrupt on this CPU may take or drop a reference
        // to the same module between the load and the store of the decrement.
        public static void Put(ModuleRefcount* m)
        {
            ulong flags = Irq.Save();
            (*(long*)DynamicPerCpu.ThisCpuPtr(m->Counter))--;
            Irq.Restore(flags);
        }

        // module_refcount: the sum over every possible CPU.
        public static long Sum(ModuleRefcount* m)
        {
            long sum = 0;
            for (int cpu = 0; cpu < Cpus.NrCpuIds; cpu++)
                if (Cpus.Possible.Has(cpu)) sum += *(long*)DynamicPerCpu.Ptr(m->Counter, cpu);
            return sum;
        }

        // The kernel's exports of the three (modules/sdk/percy_module.h).
        [System.Runtime.RuntimeExport("percy_try_module_get")]
        static int TryModuleGet(ModuleRefcount* m) => m != null && TryGet(m) ? 1 : 0;

        [System.Runtime.RuntimeExport("percy_module_put")]
        static void ModulePut(ModuleRefcount* m)
        {
            if (m != null) Put(m);
        }

        [System.Runtime.RuntimeExport("percy_module_refcount")]
        static long ModuleRefcountExport(ModuleRefcount* m) => m == null ? 0 : Sum(m);
    }
}
