// Takes and releases references to another module on every CPU, for the tests of module
// reference counts (seed 004: per-CPU counters, so a get on one CPU and a put on another
// touch no shared cache line, and only the sum means anything). Parameters:
//   target=NAME   the module to hold (default counter); missing: init fails with -ENOENT
//   gets=N        references each online CPU takes with try_module_get (default 1)
//   hold=1        keep them until this module is unloaded (default: release them in init)
//   put_cpu=C     release them all on CPU C instead of on the CPU that took each one
// Init checks module_refcount: up by gets × online CPUs after the gets, back where it was
// after the puts; a failed try_module_get (the target is going away) makes init release
// what it took and fail with -EBUSY.
//   percy> insmod refhold target=counter gets=3 hold=1
//   percy> rmmod counter           (busy: refhold holds 3 references per CPU)
//   percy> rmmod refhold           (puts them back; now counter can go)
using Percy.Kernel;
using Percy.Kernel.Percpu;
using Percy.Module;

[assembly: ModuleInfo(Description = "Takes and drops references to another module on every CPU (refcount tests)", Author = "Percy", License = "MIT")]

namespace Percy.Modules.RefHold
{
    internal static unsafe partial class RefHoldModule
    {
        [ModuleParameter("module whose references are taken", Default = "counter")]
        internal static ModuleString target;

        [ModuleParameter("references each online CPU takes")]
        internal static int gets = 1;

        [ModuleParameter("keep the references until this module is unloaded")]
        internal static bool hold;

        [ModuleParameter("CPU that releases every reference (-1: the CPU that took it)")]
        internal static int put_cpu = -1;

        // How many references to the target this CPU took and has not put back.
        [DefinePerCpu] internal static partial ref int Held { get; }

        static ModuleRef s_target;
        static int s_failedGets;

        // smp_call_function callbacks: interrupts off, on each CPU.
        static void TakeHere(void* unused)
        {
            for (int i = 0; i < gets; i++)
            {
                if (KernelApi.TryModuleGet(s_target)) Held++;
                else fixed (int* failed = &s_failedGets) KernelApi.AtomicAdd(failed, 1);
            }
        }

        static void PutHere(void* unused)
        {
            for (; Held > 0; Held--) KernelApi.ModulePut(s_target);
        }

        // On put_cpu: every CPU's references, through their global addresses.
        static void PutEverywhereFromHere(void* unused)
        {
            for (int cpu = 0; cpu < KernelApi.NrCpuIds; cpu++)
                if (KernelApi.CpuPossible(cpu))
                    for (; HeldOn(cpu) > 0; HeldOn(cpu)--) KernelApi.ModulePut(s_target);
        }

        static int Release()
        {
            return put_cpu < 0
                ? KernelApi.SmpCallFunction(KernelApi.AllCpus, &PutHere, null, wait: true)
                : KernelApi.SmpCallFunction(put_cpu, &PutEverywhereFromHere, null, wait: true);
        }

        static int OnlineCpus()
        {
            int online = 0;
            for (int cpu = 0; cpu < KernelApi.NrCpuIds; cpu++)
                if (KernelApi.CpuOnline(cpu)) online++;
            return online;
        }

        [ModuleInit]
        internal static int Init()
        {
            if (gets < 0 || put_cpu >= 0 && !KernelApi.CpuOnline(put_cpu))
            {
                KernelApi.Error($"gets={gets} put_cpu={put_cpu}: gets must be >= 0 and put_cpu online or -1");
                return -Errno.EINVAL;
            }

            byte* name = stackalloc byte[ModuleString.Capacity];
            target.CopyTo(name);
            s_target = KernelApi.FindModule(name, target.Length);
            if (s_target.IsNull)
            {
                TextLine missing = $"no module named ";
                missing.AppendBytes(name, target.Length);
                KernelApi.Error(missing);
                return -Errno.ENOENT;
            }

            long before = KernelApi.ModuleRefcount(s_target);
            int error = KernelApi.SmpCallFunction(KernelApi.AllCpus, &TakeHere, null, wait: true);
            long taken = (long)gets * OnlineCpus() - s_failedGets;
            long afterGets = KernelApi.ModuleRefcount(s_target);
            TextLine line = $"";
            line.AppendBytes(name, target.Length);
            line.AppendFormatted($": refcount {before} -> {afterGets} after {taken} gets on {OnlineCpus()} CPUs");
            KernelApi.Log(line);

            bool consistent = afterGets == before + taken;
            if (error != 0 || s_failedGets > 0 || !consistent || !hold)
            {
                int released = Release();
                long afterPuts = KernelApi.ModuleRefcount(s_target);
                KernelApi.Log($"refcount {afterPuts} after the puts{(put_cpu >= 0 ? " on one CPU" : "")}");
                if (error == 0) error = released;
                if (error == 0 && s_failedGets > 0)
                {
                    KernelApi.Warn($"{s_failedGets} gets failed: the module is going away");
                    error = -Errno.EBUSY;
                }
                if (error == 0 && (!consistent || afterPuts != before))
                {
                    KernelApi.Error($"refcount mismatch: expected {before + taken} after the gets and {before} after the puts");
                    error = -Errno.EIO;
                }
            }

            return error;
        }

        [ModuleExit]
        internal static void Exit()
        {
            if (!hold) return;
            int error = Release();
            KernelApi.Log($"released the held references: refcount {KernelApi.ModuleRefcount(s_target)}{(error != 0 ? ", release failed" : "")}");
        }
    }
}
