// A small per-CPU area for each possible CPU, until the per-CPU subsystem proper
// (percpu/) replaces it: the CPU's numbers, its stack and TSS, and its cross-CPU call
// mailbox. Allocated from the kernel heap by the boot CPU; each CPU's GS base points at
// its own area, so `mov eax, gs:[NumberOffset]` (percy_this_cpu_number) is the running
// CPU's logical number without any table lookup.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Percy.Kernel.Arch;

namespace Percy.Kernel.Smp
{
    internal enum CpuState : int
    {
        NotPresent = 0,       // possible (online-capable) but not present
        Offline = 1,          // present, not started (maxcpus=, or no trampoline)
        Starting = 2,
        Online = 3,
        Failed = 4,           // did not arrive in time; left offline
    }

    [StructLayout(LayoutKind.Sequential)]
    internal unsafe struct PerCpu
    {
        public const int NumberOffset = 8;            // percy_this_cpu_number reads gs:[8]

        public PerCpu* Self;                          // +0: the area's own address
        public int Number;                            // +8: logical CPU number
        public uint ApicId;
        public volatile int State;                    // CpuState
        public int Reserved;
        public ulong StackBottom, StackTop;           // the CPU's kernel stack (guard page below)
        public TaskStateSegment* Tss;
        public DescriptorPointer Gdt;                 // the CPU's GDT, loaded in ApMain
        public ulong ArrivalMs;                       // ms since kernel entry when it came online

        // Cross-CPU call mailbox (SmpCall): a sender owns it from taking Busy until the
        // target has copied the request out and cleared Busy.
        public int CallBusy;                          // only touched through Atomic
        public volatile int CallPending;
        public delegate*<void*, void> CallFunction;
        public void* CallArgument;
        public int* CallDone;                         // counter to increment when done, or null
        public ulong CallsHandled;

        [RuntimeImport("*", "percy_this_cpu_number")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int ReadThisCpuNumber();

        const uint GsBaseMsr = 0xC0000101;
        static bool s_gsReady;

        // The running CPU's logical number. Before the boot CPU's GS base is set there is
        // only one CPU, number 0; APs set theirs in percy_ap_entry before any C# runs.
        public static int ThisCpuNumber => s_gsReady ? ReadThisCpuNumber() : 0;

        public static PerCpu* Create(int number, uint apicId)
        {
            var p = (PerCpu*)Heap.Allocate((ulong)sizeof(PerCpu));
            p->Self = p;
            p->Number = number;
            p->ApicId = apicId;
            return p;
        }

        // Boot CPU only: APs get their GS base in percy_ap_entry.
        public static void InstallOnBootCpu(PerCpu* p)
        {
            Cpu.WriteMsr(GsBaseMsr, (ulong)p);
            s_gsReady = true;
        }

        public static ulong ReadGsBase() => Cpu.ReadMsr(GsBaseMsr);
    }
}
