// Seed 002's test module: `DEFINE_PER_CPU(int, bigarray[4200])`, 16,800 bytes per CPU —
// which Linux 6.1 still refuses (its module reserve is 8 KiB). Init writes 10000 + x into
// every possible CPU's copy through its global address (per_cpu) and reads it all back;
// exit prints bigarray[1, 2, 4, ... 4096] of CPU 0, as the seed's module did.
using Percy.Kernel;
using Percy.Kernel.Percpu;
using Percy.Module;

[assembly: ModuleInfo(Description = "Seed 002: int bigarray[4200] per CPU, written and checked on every CPU", Author = "Percy", License = "MIT")]

namespace Percy.Modules.BigArray
{
    // int[4200] as a fixed buffer: a per-CPU variable is a value, never an object.
    internal unsafe struct Int4200
    {
        public const int Length = 4200;
        public fixed int Items[Length];
    }

    internal static unsafe partial class BigArrayModule
    {
        const int Base = 10000;

        [DefinePerCpu] internal static partial ref Int4200 BigArray { get; }

        [ModuleInit]
        internal static int Init()
        {
            int cpus = 0;
            for (int cpu = 0; cpu < KernelApi.NrCpuIds; cpu++)
            {
                if (!KernelApi.CpuPossible(cpu)) continue;
                int* items = BigArrayPointer(cpu)->Items;
                for (int x = 0; x < Int4200.Length; x++) items[x] = Base + x;
                cpus++;
            }

            for (int cpu = 0; cpu < KernelApi.NrCpuIds; cpu++)
            {
                if (!KernelApi.CpuPossible(cpu)) continue;
                int* items = BigArrayPointer(cpu)->Items;
                for (int x = 0; x < Int4200.Length; x++)
                {
                    if (items[x] != Base + x)
                    {
                        KernelApi.Error($"cpu {cpu}: bigarray[{x}] = {items[x]}, expected {Base + x}");
                        return -Errno.EIO;
                    }
                }
            }

            KernelApi.Log($"bigarray[{Int4200.Length}] ({sizeof(Int4200)} bytes) written and checked on {cpus} CPUs, offset 0x{BigArrayOffset:x}");
            return 0;
        }

        [ModuleExit]
        internal static void Exit()
        {
            // Seed 002 printed each of these on a line of its own; one line keeps the kernel
            // log readable when the module is loaded and unloaded a hundred times.
            TextLine line = $"cpu 0:";
            for (int i = 1; i < Int4200.Length; i <<= 1)
                line.AppendFormatted($" bigarray[{i}]={BigArrayOn(0).Items[i]}");
            KernelApi.Log(line);
        }
    }
}
