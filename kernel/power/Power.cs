// Power off and reboot. Power off is ACPI sleep state S5: write SLP_TYP (from the
// DSDT's \_S5_ package) with SLP_EN into the PM1 control registers named by the FADT,
// after switching the chipset to ACPI mode if the firmware left it in legacy mode.
// Reboot tries, in order, the FADT's reset register, the 8042 keyboard controller's
// reset line, and a triple fault — the same ladder Linux walks.
using System.Runtime;
using System.Runtime.CompilerServices;
using Percy.Kernel.Arch;

namespace Percy.Kernel.Power
{
    // What the ACPI tables say about power control; filled in at boot.
    internal struct PowerControl
    {
        public bool SleepStateKnown;
        public ushort Pm1aControl, Pm1bControl;
        public ushort SleepTypeA, SleepTypeB;
        public ushort SmiCommand;
        public byte AcpiEnable;
        public bool ResetRegisterPresent;
        public ushort ResetPort;                      // only I/O-space reset registers are used
        public byte ResetValue;
    }

    internal static unsafe class PowerManager
    {
        const ushort SleepEnable = 1 << 13, SciEnable = 1 << 0;
        const int SleepTypeShift = 10;
        const ushort KeyboardControllerStatus = 0x64, KeyboardControllerCommand = 0x64;
        const byte InputBufferFull = 0x02, PulseResetLine = 0xFE;
        const ulong AcpiEnableTimeoutMs = 300, ResetSettleMs = 50;

        public static PowerControl Control;

        [RuntimeImport("*", "percy_triple_fault")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void TripleFault();

        // Returns only if the machine did not turn off.
        public static string PowerOff()
        {
            if (!Control.SleepStateKnown) return "ACPI gives no way to power off (no FADT or no \\_S5_ in the DSDT)";
            if (!EnterAcpiMode()) return "the firmware did not switch to ACPI mode";
            Cpu.DisableInterrupts();
            WriteSleep(Control.Pm1aControl, Control.SleepTypeA);
            if (Control.Pm1bControl != 0) WriteSleep(Control.Pm1bControl, Control.SleepTypeB);
            Wait(ResetSettleMs);
            Cpu.EnableInterrupts();
            return "ACPI S5 did not power off the machine";
        }

        public static void Reboot()
        {
            Cpu.DisableInterrupts();
            if (Control.ResetRegisterPresent)
            {
                Cpu.OutB(Control.ResetPort, Control.ResetValue);
                Wait(ResetSettleMs);
            }
            for (int i = 0; i < 0x10000 && (Cpu.InB(KeyboardControllerStatus) & InputBufferFull) != 0; i++) Cpu.Pause();
            Cpu.OutB(KeyboardControllerCommand, PulseResetLine);
            Wait(ResetSettleMs);
            TripleFault();
        }

        static bool EnterAcpiMode()
        {
            if ((Cpu.InW(Control.Pm1aControl) & SciEnable) != 0) return true;
            if (Control.SmiCommand == 0 || Control.AcpiEnable == 0) return true;   // hardware-reduced or always ACPI
            Cpu.OutB(Control.SmiCommand, Control.AcpiEnable);
            ulong deadline = Clock.MillisecondsSinceBoot() + AcpiEnableTimeoutMs;
            while (Clock.MillisecondsSinceBoot() < deadline)
                if ((Cpu.InW(Control.Pm1aControl) & SciEnable) != 0) return true;
            return false;
        }

        static void WriteSleep(ushort port, ushort sleepType)
        {
            ushort value = Cpu.InW(port);
            value = (ushort)((value & ~(0x7 << SleepTypeShift)) | (sleepType << SleepTypeShift) | SleepEnable);
            Cpu.OutW(port, value);
        }

        static void Wait(ulong ms)
        {
            ulong deadline = Clock.MillisecondsSinceBoot() + ms;
            while (Clock.MillisecondsSinceBoot() < deadline) Cpu.Pause();
        }
    }
}
