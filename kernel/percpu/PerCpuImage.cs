// Where the linker put the static per-CPU section: the template the boot code copies into
// every CPU's unit (at kernel virtual Load, mapped read-only), and its bounds as offsets.
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Percpu
{
    internal unsafe struct PerCpuImage
    {
        public ulong Load;          // __per_cpu_load: the template's kernel virtual address
        public ulong Start, End;    // __per_cpu_start (0) and __per_cpu_end: offsets in a unit

        public ulong Size => End - Start;

        // The section the linker made is the one the C# was generated for.
        public bool MatchesGeneratedLayout => Start == 0 && Size == PerCpuStatic.Size;

        [RuntimeImport("*", "percy_percpu_image")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void Read(PerCpuImage* image);

        public static PerCpuImage Current
        {
            get
            {
                PerCpuImage image;
                Read(&image);
                return image;
            }
        }
    }
}
