// Where the linker put the kernel's parts (symbols from linker.ld).
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Arch
{
    internal unsafe struct KernelLayout
    {
        public ulong Start, TextStart, TextEnd, RodataStart, RodataEnd, DataStart, BssStart, End;
        public ulong BootStackGuard;                // one unmapped page below the boot stack
        public ulong PerCpuLoad;                    // __per_cpu_load: the per-CPU template in the image
        public ulong PerCpuStart, PerCpuEnd;        // __per_cpu_start (0), __per_cpu_end: offsets in a unit
        public ulong PerCpuOffsetStart, PerCpuOffsetEnd;   // the __per_cpu_offset[] array

        [RuntimeImport("*", "percy_kernel_layout")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void Read(KernelLayout* layout);

        public static KernelLayout Current
        {
            get
            {
                KernelLayout layout;
                Read(&layout);
                return layout;
            }
        }
    }
}
