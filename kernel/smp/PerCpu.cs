// The SMP bookkeeping of each possible CPU: its numbers, state, stack and TSS, and its
// cross-CPU call mailbox. Allocated from the kernel heap by the boot CPU and reached
// through Cpus.Area(cpu) from any CPU. (The running CPU's own number is the per-CPU
// variable Cpus.Number; GS holds the CPU's per-CPU unit, see InstallGsBase.)
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Percy.Kernel.Arch;
using Percy.Kernel.Percpu;

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

        // Work queued to run in this CPU's idle loop with interrupts on (SmpCall.QueueWork):
        // set by the call IPI's handler, cleared when the work returns.
        public delegate*<void*, void> WorkFunction;
        public void* WorkArgument;

        public static PerCpu* Create(int number, uint apicId)
        {
            var p = (PerCpu*)Heap.Allocate((ulong)sizeof(PerCpu));
            p->Self = p;
            p->Number = number;
            p->ApicId = apicId;
            return p;
        }

        const uint GsBaseMsr = 0xC0000101;

        // GS base := the CPU's unit (its global address), so asm can reach a per-CPU
        // variable as [gs:per_cpu__name], the symbol's value being its offset in a unit.
        public static void InstallGsBase(int cpu) => Cpu.WriteMsr(GsBaseMsr, PerCpuLayout.UnitBase(cpu));

        public static ulong ReadGsBase() => Cpu.ReadMsr(GsBaseMsr);

        // smp_processor_id() the asm way, [gs:per_cpu__...Number]; for the self-tests.
        [RuntimeImport("*", "percy_this_cpu_number")] [MethodImpl(MethodImplOptions.InternalCall)]
        public static extern int ReadNumberThroughGs();
    }
}
