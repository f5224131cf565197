// Example per-CPU variables, declared the way any kernel code declares one, and used by
// the layout tests and the build's ELF check (nm iso/out/percy.elf | grep per_cpu).
// Nothing reads them before the boot code maps each CPU's unit and local window.
using System.Runtime.InteropServices;

namespace Percy.Kernel.Percpu
{
    // A cache line of statistics: 64-byte aligned so no two CPUs' copies share a line.
    [StructLayout(LayoutKind.Sequential, Size = 64)]
    public struct CacheLineStats
    {
        public ulong Events;
        public ulong Ticks;
        public int Cpu;
    }

    // int[4200]: 16,800 bytes, as a fixed buffer (a per-CPU variable is a value, never an object).
    public unsafe struct Int4200
    {
        public const int Length = 4200;
        public fixed int Items[Length];
    }

    internal static unsafe partial class PerCpuExamples
    {
        public const long MagicValue = 0x5045524359;           // "YCREP": "PERCY" read little-endian

        [DefinePerCpu] internal static partial ref long ProbeCounter { get; }
        [DefinePerCpu(Align = 64)] internal static partial ref CacheLineStats Stats { get; }
        [DefinePerCpu] internal static partial ref Int4200 Big { get; }
        [DefinePerCpu(Initial = MagicValue)] internal static partial ref long Magic { get; }
        [DefinePerCpu(Initial = 42)] internal static partial ref int Answer { get; }

        // A struct with an initial value: every CPU's copy starts as this template.
        static readonly CacheLineStats StatsTemplate = new() { Events = 1, Ticks = 0x7469636b, Cpu = -1 };
        [DefinePerCpu(Align = 64, InitialFrom = nameof(StatsTemplate))] internal static partial ref CacheLineStats InitialisedStats { get; }
    }
}
