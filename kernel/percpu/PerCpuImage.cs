// Where the linker put the static per-CPU section: the template the boot code copies into
// every CPU's unit (at kernel virtual Load, mapped read-only), and its bounds as offsets.
// The linker symbols come with the rest of the image's layout (KernelLayout).
using Percy.Kernel.Arch;

namespace Percy.Kernel.Percpu
{
    internal struct PerCpuImage
    {
        public ulong Load;          // __per_cpu_load: the template's kernel virtual address
        public ulong Start, End;    // __per_cpu_start (0) and __per_cpu_end: offsets in a unit

        public ulong Size => End - Start;

        // The section the linker made is the one the C# was generated for.
        public bool MatchesGeneratedLayout => Start == 0 && Size == PerCpuStatic.Size;

        public static PerCpuImage Current
        {
            get
            {
                KernelLayout k = KernelLayout.Current;
                return new PerCpuImage { Load = k.PerCpuLoad, Start = k.PerCpuStart, End = k.PerCpuEnd };
            }
        }
    }
}
