// The GDT and TSS. Long mode ignores segment bases and limits; what matters here is
// the code/data selectors and the TSS, whose interrupt stack table gives double faults
// and NMIs a known-good stack even when the kernel stack itself is the problem.
using System.Runtime;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Percy.Kernel.Arch
{
    [StructLayout(LayoutKind.Sequential, Pack = 4)]
    internal unsafe struct TaskStateSegment
    {
        public uint Reserved0;
        public ulong Rsp0, Rsp1, Rsp2;
        public ulong Reserved1;
        public ulong Ist1, Ist2, Ist3, Ist4, Ist5, Ist6, Ist7;
        public ulong Reserved2;
        public ushort Reserved3;
        public ushort IoMapBase;
    }

    [StructLayout(LayoutKind.Sequential, Pack = 2)]
    internal struct DescriptorPointer
    {
        public ushort Limit;
        public ulong Base;
    }

    internal static unsafe class Gdt
    {
        public const ushort KernelCode = 0x08;
        public const ushort KernelData = 0x10;
        public const ushort Tss = 0x18;
        // Interrupt stack table slots, as IDT entries name them.
        public const byte DoubleFaultIst = 1;
        public const byte NmiIst = 2;
        const int Entries = 5;                       // null, code, data, TSS (two slots)
        public const ulong CodeDescriptor = 0x00AF9A000000FFFF; // present, ring 0, 64-bit code
        public const ulong DataDescriptor = 0x00CF92000000FFFF; // present, ring 0, writable
        const ulong TssAvailable = 0x89;             // present, type 9: 64-bit TSS (available)
        public const int IstStackSize = 16 * 1024;

        static TaskStateSegment* s_bootTss;

        [RuntimeImport("*", "percy_load_gdt")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void LoadGdt(DescriptorPointer* gdt, ulong codeSelector, ulong dataSelector);
        [RuntimeImport("*", "percy_load_tr")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void LoadTaskRegister(ulong selector);

        // Builds and loads a GDT and TSS for the calling CPU (the boot CPU, early: its fault
        // stacks come from the boot arena until MoveInterruptStacks).
        public static void InitThisCpu()
        {
            DescriptorPointer ptr = Create((ulong)Heap.Allocate(IstStackSize) + IstStackSize,
                                           (ulong)Heap.Allocate(IstStackSize) + IstStackSize, out s_bootTss);
            Load(&ptr);
        }

        // A GDT and TSS for one CPU, with the given double-fault and NMI stack tops. Each
        // CPU needs its own pair: a TSS is marked busy once loaded and cannot be shared.
        // The boot CPU builds them for the APs (the heap is not theirs to use yet).
        public static DescriptorPointer Create(ulong doubleFaultStack, ulong nmiStack, out TaskStateSegment* tssOut)
        {
            ulong* gdt = (ulong*)Heap.Allocate((ulong)(Entries * sizeof(ulong)));
            var tss = (TaskStateSegment*)Heap.Allocate((ulong)sizeof(TaskStateSegment));
            tss->Ist1 = doubleFaultStack;
            tss->Ist2 = nmiStack;
            tss->IoMapBase = (ushort)sizeof(TaskStateSegment); // no I/O permission bitmap

            gdt[KernelCode / 8] = CodeDescriptor;
            gdt[KernelData / 8] = DataDescriptor;
            ulong b = (ulong)tss, limit = (ulong)sizeof(TaskStateSegment) - 1;
            gdt[Tss / 8] = (limit & 0xFFFF) | ((b & 0xFFFFFF) << 16) | (TssAvailable << 40)
                         | ((limit >> 16 & 0xF) << 48) | ((b >> 24 & 0xFF) << 56);
            gdt[Tss / 8 + 1] = b >> 32;

            DescriptorPointer ptr;
            ptr.Limit = Entries * sizeof(ulong) - 1;
            ptr.Base = (ulong)gdt;
            tssOut = tss;
            return ptr;
        }

        // Loads a GDT made by Create on the calling CPU, and its TSS.
        public static void Load(DescriptorPointer* gdt)
        {
            LoadGdt(gdt, KernelCode, KernelData);
            LoadTaskRegister(Tss);
        }

        public static TaskStateSegment* BootTss => s_bootTss;

        // Once guarded kernel stacks exist, the boot CPU's fault stacks move onto them
        // (the CPU reads the IST slots at every interrupt, so this takes effect at once).
        public static void MoveInterruptStacks()
        {
            ulong df = Mm.KernelStacks.Allocate(IstStackSize, out _), nmi = Mm.KernelStacks.Allocate(IstStackSize, out _);
            if (df == 0 || nmi == 0) Panic.Fail("out of memory for interrupt stacks");
            s_bootTss->Ist1 = df;
            s_bootTss->Ist2 = nmi;
        }
    }
}
