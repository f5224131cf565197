// The first chunk's unit layout (seed 003's pcpu_build_alloc_info, for Percy's per-CPU
// virtual memory of seed 002), and where every CPU's unit lives.
//
//   unit of CPU c (global):  UnitBase(c) = AddressSpace.PerCpuBase + c * UnitStride
//   this CPU's unit:         AddressSpace.LocalWindowBase (the private PML4 slot)
//
//   offset 0                 static part: the linked .data..percpu section, copied in
//   StaticSize               reserved part (percpu.reserved=, default 0): for modules
//   StaticSize + Reserved    dynamic part: alloc_percpu, up to the end of the unit
//   UnitVm                   end of the first chunk's unit (percpu.unit_vm=, default 1 MiB)
//
// Why two sizes. `per_cpu(var, cpu)` must be arithmetic on constants, with no memory load
// (Linux loads __per_cpu_offset[cpu]). The distance between two CPUs' units is therefore
// a compile-time constant, UnitStride = the per-CPU region / MaxUnits = 16 GiB. The command
// line chooses unit_vm, the size of a unit of one chunk, among the powers of two from a
// page to UnitStride: it decides how big one allocation may be and how much of a CPU's
// range one chunk takes (chunk k's unit of CPU c is at UnitBase(c) + k * unit_vm), never
// where a CPU's data is. Virtual memory is free; only the pages holding data are mapped.
// A 1 GiB-aligned stride also lets the local window alias a CPU's own page directories.
//
// Pure logic: compiled into the kernel and into the host tests.
using System.Runtime.CompilerServices;
using Percy.Kernel.Mm;

namespace Percy.Kernel.Percpu
{
    public struct PerCpuUnitLayout
    {
        public int Units;               // one per possible CPU
        public ulong PageSize;
        public ulong UnitVm;            // the size of one unit of the first chunk
        public ulong StaticSize;        // __per_cpu_end - __per_cpu_start
        public ulong ReservedSize;
        public ulong DynamicSize;
        public ulong CommittedPages;    // per CPU at boot: the static part rounded up to pages

        public ulong ReservedOffset => StaticSize;
        public ulong DynamicOffset => StaticSize + ReservedSize;
        public ulong CommittedBytes => CommittedPages * PageSize;

        public ulong UnitBase(int cpu) => PerCpuLayout.UnitBase(cpu);

        // `percpu: <n> units, unit_vm=<bytes>, static=<bytes> reserved=<bytes> dynamic=<bytes>, committed=<pages> pages/cpu`
        public TextLine FormatLine()
            => $"percpu: {Units} units, unit_vm={UnitVm}, static={StaticSize} reserved={ReservedSize} dynamic={DynamicSize}, committed={CommittedPages} pages/cpu";
    }

    public static class PerCpuLayout
    {
        public const ulong RegionBase = AddressSpace.PerCpuBase;
        public const ulong RegionSize = AddressSpace.PerCpuSlots * AddressSpace.SlotSize;   // 4 TiB
        public const ulong RegionEnd = RegionBase + RegionSize;
        public const int MaxUnits = 256;                                                     // = MadtInfo.MaxCpus
        public const ulong UnitStride = RegionSize / MaxUnits;                                // 16 GiB
        public const ulong LocalBase = AddressSpace.LocalWindowBase;

        public const ulong DefaultUnitVm = 1ul << 20;
        public const ulong DefaultReserved = 0;
        public const ulong MinAllocSize = 4;                 // the dynamic allocator's granule

        public const string UnitVmOption = "percpu.unit_vm";
        public const string ReservedOption = "percpu.reserved";

        // CPU `cpu`'s unit, and a variable at `offset` in it: constants and one multiply
        // (a shift: UnitStride is a power of two), never a load; always inlined.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static ulong UnitBase(int cpu) => RegionBase + (ulong)(uint)cpu * UnitStride;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static ulong GlobalAddress(int cpu, ulong offset) => RegionBase + (ulong)(uint)cpu * UnitStride + offset;
        // The running CPU's copy, through the local window. Never hand this address to another CPU.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static ulong LocalAddress(ulong offset) => LocalBase + offset;

        // The Linux shape of the same thing: __per_cpu_offset[cpu] for a zero-based section.
        public static ulong Offset(int cpu) => UnitBase(cpu);

        static bool IsPowerOfTwo(ulong x) => x != 0 && (x & (x - 1)) == 0;

        // Builds the first chunk's layout, or returns why not (a literal reason; null on success).
        public static string Build(ulong staticSize, ulong reservedSize, ulong unitVm, ulong pageSize, int possibleCpus, out PerCpuUnitLayout layout)
        {
            layout = default;
            if (!IsPowerOfTwo(pageSize)) return "page size is not a power of two";
            if (possibleCpus <= 0) return "no possible CPUs";
            if (possibleCpus > MaxUnits) return "too many CPUs: their units would pass the end of the per-CPU region";
            if (!IsPowerOfTwo(unitVm)) return "unit_vm is not a power of two";
            if (unitVm < pageSize) return "unit_vm is smaller than a page";
            if (unitVm > UnitStride) return "unit_vm is larger than the per-CPU unit stride (16 GiB)";
            if (reservedSize % MinAllocSize != 0) return "reserved size is not a multiple of 4 bytes";
            ulong used = staticSize + reservedSize;
            if (used < staticSize) return "static + reserved overflows";
            if (used > unitVm) return "unit_vm is smaller than static + reserved";

            // The last unit must end inside the region: RegionBase + (n-1) * stride + unit_vm.
            ulong lastBase = (ulong)(uint)(possibleCpus - 1) * UnitStride;
            if (lastBase > RegionSize || RegionSize - lastBase < unitVm)
                return "too many CPUs: their units would pass the end of the per-CPU region";

            layout.Units = possibleCpus;
            layout.PageSize = pageSize;
            layout.UnitVm = unitVm;
            layout.StaticSize = staticSize;
            layout.ReservedSize = reservedSize;
            layout.DynamicSize = unitVm - used;
            layout.CommittedPages = staticSize / pageSize + (staticSize % pageSize != 0 ? 1ul : 0ul);
            return null;
        }

        // percpu.unit_vm= and percpu.reserved= (sizes: decimal or 0x hex, K/M/G/T suffixes).
        // Missing options keep their defaults; a malformed one is an error, not a guess.
        // `badOption` names the option an error is about.
        public static string ReadOptions(KernelCommandLine cmdline, out ulong unitVm, out ulong reserved, out string badOption)
        {
            unitVm = DefaultUnitVm;
            reserved = DefaultReserved;
            badOption = null;
            string error;
            if (cmdline.TryGetSize(UnitVmOption, out ulong v, out error)) unitVm = v;
            else if (error != null) { badOption = UnitVmOption; return error; }
            if (cmdline.TryGetSize(ReservedOption, out ulong r, out error)) reserved = r;
            else if (error != null) { badOption = ReservedOption; return error; }
            return null;
        }
    }
}
