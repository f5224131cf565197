// The interrupt descriptor table: every vector points at its stub in interrupts.asm.
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Arch
{
    internal static unsafe class Idt
    {
        public const int Vectors = 256;
        public const int DoubleFault = 8;
        public const int Nmi = 2;
        const ushort InterruptGate = 0x8E00;         // present, ring 0, 64-bit interrupt gate

        static ulong* s_table;                       // two qwords per vector

        [RuntimeImport("*", "percy_isr_stub_table")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern ulong* StubTable();
        [RuntimeImport("*", "percy_load_idt")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void LoadIdt(DescriptorPointer* idt);

        // Built once; all CPUs share it.
        public static void Build()
        {
            s_table = (ulong*)Heap.Allocate(Vectors * 16);
            ulong* stubs = StubTable();
            for (int v = 0; v < Vectors; v++)
            {
                ulong ist = v == DoubleFault ? Gdt.DoubleFaultIst : v == Nmi ? Gdt.NmiIst : 0u;
                ulong handler = stubs[v];
                s_table[v * 2] = (handler & 0xFFFF) | ((ulong)Gdt.KernelCode << 16) | (ist << 32)
                               | ((ulong)InterruptGate << 32) | ((handler >> 16 & 0xFFFF) << 48);
                s_table[v * 2 + 1] = handler >> 32;
            }
        }

        const ulong PresentBit = 1ul << 47;

        public static bool IsPresent(int vector) => (s_table[vector * 2] & PresentBit) != 0;
        public static bool UsesStack(int vector, byte ist) => (s_table[vector * 2] >> 32 & 7) == ist;

        public static void LoadThisCpu()
        {
            DescriptorPointer ptr;
            ptr.Limit = Vectors * 16 - 1;
            ptr.Base = (ulong)s_table;
            LoadIdt(&ptr);
        }
    }
}
