// The C-ABI functions the kernel exports to modules (listed, with the asm routines and
// runtime helpers modules may also call, in KernelExportTable.cs). Each is a thin wrapper
// over kernel code, under a plain symbol name, System V calling convention: the module SDK
// binds to them with [RuntimeImport] (modules/sdk/Kernel.cs), C modules through
// modules/sdk/percy_module.h. Text crosses as (bytes, length): ASCII, not NUL-terminated.
using System.Runtime;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Modules
{
    internal static unsafe class KernelExports
    {
        // Linux's errno values, returned negated.
        const int EINVAL = 22;

        // Log levels a module may use; anything else logs at Info.
        const int LevelError = (int)LogLevel.Error, LevelWarning = (int)LogLevel.Warning;

        // One log line (cut at TextLine.Capacity bytes).
        [RuntimeExport("percy_log")]
        static void LogLine(int level, byte* text, ulong length)
        {
            TextLine line = Line(text, length);
            if (level == LevelError) Log.Error(line);
            else if (level == LevelWarning) Log.Warn(line);
            else Log.Info(line);
        }

        // Does not return. C# modules reach it through RuntimeFailure.Fail (bounds and null checks).
        [RuntimeExport("percy_panic")]
        static void PanicLine(byte* text, ulong length) => Panic.Fail(Line(text, length));

        static TextLine Line(byte* text, ulong length)
        {
            TextLine line = $"";
            if (text != null) line.AppendBytes(text, length > TextLine.Capacity ? TextLine.Capacity : (int)length);
            return line;
        }

        // Possible CPUs are numbered 0 .. nr_cpu_ids-1; every one has a per-CPU unit.
        [RuntimeExport("percy_nr_cpu_ids")]
        static int NrCpuIds() => Cpus.NrCpuIds;

        [RuntimeExport("percy_num_possible_cpus")]
        static int NumPossibleCpus() => Cpus.PossibleCount;

        [RuntimeExport("percy_cpu_possible")]
        static int CpuPossible(int cpu) => cpu >= 0 && cpu < Cpus.NrCpuIds && Cpus.Possible.Has(cpu) ? 1 : 0;

        [RuntimeExport("percy_cpu_online")]
        static int CpuOnline(int cpu) => cpu >= 0 && cpu < Cpus.NrCpuIds && Cpus.Online.Has(cpu) ? 1 : 0;

        // fn(arg) on `cpu`, or on every online CPU with cpu = -1 (SmpCall.AllCpus), with
        // interrupts off; wait != 0 returns when all are done. 0, or -EINVAL if `cpu` is not
        // online. fn is a plain function of the module: ILC's managed convention for a static
        // method taking a pointer is the System V one, so C and C# callbacks alike fit.
        [RuntimeExport("percy_smp_call_function")]
        static int SmpCallFunction(int cpu, delegate*<void*, void> fn, void* arg, int wait)
            => fn != null && SmpCall.Call(cpu, fn, arg, wait != 0) ? 0 : -EINVAL;

        // The four functions gcc may call in freestanding code (C modules).
        [RuntimeExport("memset")]
        static void* MemorySet(void* dst, int value, nuint size)
        {
            Memory.Fill((byte*)dst, (byte)value, size);
            return dst;
        }

        [RuntimeExport("memcpy")]
        static void* MemoryCopy(void* dst, void* src, nuint size)
        {
            Memory.Move((byte*)dst, (byte*)src, size);
            return dst;
        }

        [RuntimeExport("memmove")]
        static void* MemoryMove(void* dst, void* src, nuint size)
        {
            Memory.Move((byte*)dst, (byte*)src, size);
            return dst;
        }

        [RuntimeExport("memcmp")]
        static int MemoryCompare(void* a, void* b, nuint size) => Memory.Compare((byte*)a, (byte*)b, size);
    }
}
