// [DefinePerCpu]: Percy's DEFINE_PER_CPU. Put it on a static partial ref-returning property
// with only a getter, in any partial class of the kernel:
//
//     [DefinePerCpu] internal static partial ref long Counter { get; }
//     [DefinePerCpu(Initial = 42)] internal static partial ref int Answer { get; }
//     [DefinePerCpu(Align = 64)] internal static partial ref RunQueue Queue { get; }
//     [DefinePerCpu(InitialFrom = nameof(QueueInit))] internal static partial ref RunQueue Queue2 { get; }
//
// The build (build/PerCpuGenerator.cs) reads these declarations with Roslyn before the
// kernel is compiled and generates, from that one source:
//   * the property's body: this CPU's copy through the local window, a constant address
//     (`Counter++` is one read-modify-write instruction on [LocalWindowBase + offset]);
//   * `CounterOffset` (a const), `CounterOn(cpu)` (per_cpu, by reference) and
//     `CounterPointer(cpu)` (the global address, safe to hand to another CPU);
//   * kernel/percpu/obj/PerCpu.g.cs and iso/out/obj/percpu/percpu.asm, whose
//     .data..percpu section holds one symbol per variable, `per_cpu__<Type>__<Name>`,
//     with the initial bytes.
// The type may be any unmanaged struct (fixed buffers for arrays); see docs/percpu.md.
using System;

namespace Percy.Kernel.Percpu
{
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class DefinePerCpuAttribute : Attribute
    {
        // The initial value on every CPU: a constant of the variable's (primitive or enum) type.
        public object Initial { get; set; }
        // The initial value of a variable of any type: the name of a static readonly field of
        // the same type in the declaring class, initialised with constants, e.g.
        //     static readonly Stats StatsInit = new() { Cpu = -1 };
        //     [DefinePerCpu(InitialFrom = nameof(StatsInit))] static partial ref Stats S { get; }
        public string InitialFrom { get; set; }
        // Alignment in the section beyond the type's own (a power of two), e.g. 64 for a cache line.
        public int Align { get; set; }
    }
}
