// The C# face of cpu.asm: port I/O, MSRs, control registers, halting.
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Arch
{
    internal static unsafe class Cpu
    {
        [RuntimeImport("*", "percy_outb")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void OutB(ushort port, byte value);
        [RuntimeImport("*", "percy_outw")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void OutW(ushort port, ushort value);
        [RuntimeImport("*", "percy_outl")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void OutL(ushort port, uint value);
        [RuntimeImport("*", "percy_inb")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern byte InB(ushort port);
        [RuntimeImport("*", "percy_inw")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ushort InW(ushort port);
        [RuntimeImport("*", "percy_inl")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern uint InL(ushort port);
        [RuntimeImport("*", "percy_rdtsc")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadTsc();
        [RuntimeImport("*", "percy_rdmsr")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadMsr(uint msr);
        [RuntimeImport("*", "percy_wrmsr")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void WriteMsr(uint msr, ulong value);
        // CPUID leaf 0: the highest basic leaf in EAX, the vendor string in EBX, EDX, ECX.
        // Leaf 1: the family/model/stepping signature in EAX, feature flags in ECX and EDX.
        public const uint CpuidBasicLeaf = 0, CpuidFeatureLeaf = 1;
        // CpuId writes EAX, EBX, ECX, EDX in this order.
        public const int Eax = 0, Ebx = 1, Ecx = 2, Edx = 3;
        [RuntimeImport("*", "percy_cpuid")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void CpuId(uint leaf, uint subleaf, uint* regs);
        [RuntimeImport("*", "percy_read_cr0")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadCr0();
        [RuntimeImport("*", "percy_read_cr2")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadCr2();
        [RuntimeImport("*", "percy_read_cr3")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadCr3();
        [RuntimeImport("*", "percy_read_cr4")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadCr4();
        [RuntimeImport("*", "percy_write_cr3")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void WriteCr3(ulong value);
        [RuntimeImport("*", "percy_invlpg")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void InvalidatePage(ulong virt);
        [RuntimeImport("*", "percy_read_rbp")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong ReadFramePointer();
        [RuntimeImport("*", "percy_halt")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void Halt();
        [RuntimeImport("*", "percy_cli")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void DisableInterrupts();
        [RuntimeImport("*", "percy_sti")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void EnableInterrupts();
        [RuntimeImport("*", "percy_wait_for_interrupt")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void WaitForInterrupt();
        [RuntimeImport("*", "percy_pause")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void Pause();

        const uint ExtendedFeatures = 0x80000001;
        const uint Pdpe1GbBit = 1u << 26;
        const uint EferMsr = 0xC0000080;
        const ulong EferNoExecuteEnable = 1ul << 11;

        // Whether page-table bit 63 (NX) is in force: boot.asm sets EFER.NXE only when
        // CPUID offers NX, and the APs copy the boot CPU's EFER.
        public static bool NoExecuteEnabled() => (ReadMsr(EferMsr) & EferNoExecuteEnable) != 0;

        // 1 GiB pages (CPUID 0x80000001 EDX bit 26): not every CPU model has them.
        public static bool HasHugePages()
        {
            uint* regs = stackalloc uint[4];
            CpuId(ExtendedFeatures, 0, regs);
            return (regs[Edx] & Pdpe1GbBit) != 0;
        }

        // Stops this CPU for good: interrupts off, halt forever.
        public static void HaltForever()
        {
            DisableInterrupts();
            for (;;) Halt();
        }
    }
}
