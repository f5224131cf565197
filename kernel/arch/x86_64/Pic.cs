// The legacy 8259 interrupt controllers. Remapped above the CPU exception vectors;
// only the lines Percy uses are unmasked.
namespace Percy.Kernel.Arch
{
    internal static class Pic
    {
        public const int VectorBase = 0x20;
        public const int Lines = 16;
        const ushort MasterCommand = 0x20, MasterData = 0x21, SlaveCommand = 0xA0, SlaveData = 0xA1;
        const byte Initialize = 0x11, Mode8086 = 0x01, EndOfInterrupt = 0x20, CascadeLine = 2;

        static ushort s_mask = 0xFFFF;

        public static void Init()
        {
            Cpu.OutB(MasterCommand, Initialize);
            Cpu.OutB(SlaveCommand, Initialize);
            Cpu.OutB(MasterData, VectorBase);
            Cpu.OutB(SlaveData, VectorBase + 8);
            Cpu.OutB(MasterData, 1 << CascadeLine);
            Cpu.OutB(SlaveData, CascadeLine);
            Cpu.OutB(MasterData, Mode8086);
            Cpu.OutB(SlaveData, Mode8086);
            s_mask = 0xFFFF & ~(1 << CascadeLine);
            WriteMask();
        }

        public static void Unmask(int line)
        {
            s_mask &= (ushort)~(1 << line);
            WriteMask();
        }

        // When the I/O APIC takes over: every line masked, the cascade too.
        public static void MaskAll()
        {
            s_mask = 0xFFFF;
            WriteMask();
        }

        public static void EndOfInterruptFor(int line)
        {
            if (line >= 8) Cpu.OutB(SlaveCommand, EndOfInterrupt);
            Cpu.OutB(MasterCommand, EndOfInterrupt);
        }

        static void WriteMask()
        {
            Cpu.OutB(MasterData, (byte)s_mask);
            Cpu.OutB(SlaveData, (byte)(s_mask >> 8));
        }
    }
}
