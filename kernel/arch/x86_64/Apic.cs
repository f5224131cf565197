// The local APIC of each CPU, in x2APIC mode (registers are MSRs 0x800 + offset/16)
// when CPUID offers it, otherwise in xAPIC mode (registers in a 4 KiB MMIO page, mapped
// uncached in the vmap area). The boot CPU chooses the mode (ApicMode.Choose: also
// `nox2apic`, and the firmware's own x2APIC choice); every AP follows it.
//
// Vectors: 0xEF timer (calibrated, kept masked: nothing schedules yet), 0xF0 cross-CPU
// call IPI, 0xFE APIC error, 0xFF spurious (its low four bits must be set on old parts).
// Until the I/O APIC takes legacy IRQs (IoApic.cs), the 8259 PIC reaches the boot CPU
// through LINT0 in ExtINT mode (virtual wire); APs always mask LINT0.
using Percy.Kernel.Mm;

namespace Percy.Kernel.Arch
{
    internal static unsafe class Apic
    {
        public const int TimerVector = 0xEF;
        public const int CallVector = 0xF0;
        public const int ErrorVector = 0xFE;
        public const int SpuriousVector = 0xFF;

        // Register offsets in the xAPIC page (Intel SDM vol. 3, table 11-1).
        const uint RegId = 0x20, RegVersion = 0x30, RegTpr = 0x80, RegEoi = 0xB0, RegSvr = 0xF0;
        const uint RegEsr = 0x280, RegIcrLow = 0x300, RegIcrHigh = 0x310;
        const uint RegLvtTimer = 0x320, RegLvtLint0 = 0x350, RegLvtLint1 = 0x360, RegLvtError = 0x370;
        const uint RegTimerInitial = 0x380, RegTimerCurrent = 0x390, RegTimerDivide = 0x3E0;

        const uint ApicBaseMsr = 0x1B;
        const ulong ApicBaseAddressMask = 0xFFFFFF000;

        const uint SvrEnable = 1u << 8;
        const uint LvtMasked = 1u << 16;
        const uint DeliveryExtInt = 7u << 8, DeliveryNmi = 4u << 8;
        const uint IcrInit = 5u << 8, IcrStartup = 6u << 8, IcrFixed = 0, IcrNmi = 4u << 8;
        const uint IcrAllExcludingSelf = 3u << 18;
        const uint IcrLevelAssert = 1u << 14, IcrLevelTrigger = 1u << 15, IcrDeliveryPending = 1u << 12;
        const uint TimerDivideBy16 = 0x3;
        // Against the already calibrated TSC, 2 ms is thousands of timer ticks even on a
        // slow bus (25 MHz / 16 gives 3125): precise to a few hundredths of a percent.
        const uint TimerCalibrationMs = 2, MicrosecondsPerMs = 1000;

        static ApicModeKind s_mode;
        static ulong s_mmio;                         // virtual address of the xAPIC page
        static ulong s_physical;
        static uint s_timerTicksPerMs;
        static int s_errors, s_spurious;
        static volatile int s_timerInterrupts;

        public static bool X2ApicMode => s_mode == ApicModeKind.X2Apic;
        public static ulong PhysicalBase => s_physical;
        public static uint TimerTicksPerMs => s_timerTicksPerMs;
        public static int SpuriousCount => s_spurious;
        public static int ErrorCount => s_errors;
        public static int TimerInterrupts => s_timerInterrupts;

        // Boot CPU: choose the mode, map the registers, set up this LAPIC, calibrate the timer.
        public static void InitBootCpu(ulong madtAddress)
        {
            uint* regs = stackalloc uint[4];
            Cpu.CpuId(Cpu.CpuidFeatureLeaf, 0, regs);
            ulong msr = Cpu.ReadMsr(ApicBaseMsr);
            s_mode = ApicMode.Choose(regs[Cpu.Ecx], msr, Boot.Options.Has(ApicMode.NoX2ApicOption), out string note);
            if (note != null) Log.Info($"apic: {note}");
            s_physical = msr & ApicBaseAddressMask;
            if (s_physical == 0) s_physical = madtAddress;
            if (madtAddress != 0 && madtAddress != s_physical)
                Log.Warn($"apic: warning: MADT says LAPIC at {madtAddress:x}, APIC_BASE MSR says {s_physical:x}; using the MSR");
            if (!X2ApicMode)
            {
                s_mmio = (ulong)IoMap.Map(s_physical, AddressSpace.PageSize, out string error);
                if (error != null) Panic.Fail($"apic: cannot map the local APIC: {error}");
            }
            InitThisCpu(true);
            CalibrateTimer();
            Log.Info($"apic: {(X2ApicMode ? "x2APIC" : "xAPIC")} mode, base 0x{s_physical:x}, id {CurrentId()}, version 0x{Read(RegVersion) & 0xFF:x}, timer {s_timerTicksPerMs} ticks/ms (divide 16)");
        }

        // Every CPU: enable its LAPIC in the chosen mode and program the local vectors.
        // Only the boot CPU takes legacy interrupts through LINT0 (ExtINT from the 8259);
        // on APs LINT0 is masked so the PIC's interrupts are not seen twice.
        public static void InitThisCpu(bool bootCpu)
        {
            int steps = ApicMode.EnableSteps(Cpu.ReadMsr(ApicBaseMsr), s_mode, out ulong first, out ulong second);
            if (steps >= 1) Cpu.WriteMsr(ApicBaseMsr, first);
            if (steps >= 2) Cpu.WriteMsr(ApicBaseMsr, second);
            Write(RegTpr, 0);
            Write(RegLvtTimer, LvtMasked | TimerVector);
            Write(RegLvtLint0, bootCpu ? DeliveryExtInt : LvtMasked);
            Write(RegLvtLint1, DeliveryNmi);
            Write(RegLvtError, ErrorVector);
            ClearErrors();
            Write(RegSvr, SvrEnable | SpuriousVector);
            EndOfInterrupt();
        }

        // Once the I/O APIC delivers legacy IRQs, the PIC's virtual-wire path is closed.
        public static void MaskLegacyInput() => Write(RegLvtLint0, LvtMasked);

        // This CPU's APIC id: all 32 bits in x2APIC mode, bits 31:24 of the register otherwise.
        public static uint CurrentId() => ApicMode.IdFromRegister(Read(RegId), s_mode);

        public static void EndOfInterrupt() => Write(RegEoi, 0);

        public static bool CanAddress(uint apicId) => ApicMode.CanAddress(apicId, s_mode);

        public static void SendInit(uint apicId)
        {
            SendIcr(apicId, IcrInit | IcrLevelAssert | IcrLevelTrigger);
            // De-assert: only 82489DX-era APICs need it and modern ones ignore it (Linux sends
            // it too); x2APIC does not support that ICR encoding at all.
            if (!X2ApicMode) SendIcr(apicId, IcrInit | IcrLevelTrigger);
        }

        // The start-up IPI's vector is the physical page number of the real-mode entry.
        public static void SendStartup(uint apicId, ulong page) => SendIcr(apicId, IcrStartup | (uint)(page >> 12));

        public static void SendIpi(uint apicId, int vector) => SendIcr(apicId, IcrFixed | (uint)vector);

        // An NMI to every CPU but this one (destination shorthand "all excluding self").
        public static void SendNmiToOthers() => SendIcr(0, IcrNmi | IcrAllExcludingSelf);

        // One timer interrupt on this CPU after `ticks` (divide 16). Nothing schedules on it
        // yet; the self-test uses it to show the calibrated timer interrupts.
        public static void StartOneShot(uint ticks)
        {
            Write(RegTimerDivide, TimerDivideBy16);
            Write(RegLvtTimer, TimerVector);                 // unmasked, one-shot
            Write(RegTimerInitial, ticks);
        }

        public static void HandleTimer()
        {
            s_timerInterrupts++;
            Write(RegLvtTimer, LvtMasked | TimerVector);
            EndOfInterrupt();
        }

        static void SendIcr(uint apicId, uint low)
        {
            ulong flags = Smp.Irq.Save();                   // the two xAPIC writes must not be split
            if (X2ApicMode) Cpu.WriteMsr(ApicMode.MsrOf(RegIcrLow), ApicMode.X2ApicIcr(apicId, low));
            else
            {
                Write(RegIcrHigh, ApicMode.XApicIcrHigh(apicId));
                Write(RegIcrLow, low);
                while ((Read(RegIcrLow) & IcrDeliveryPending) != 0) Cpu.Pause();
            }
            Smp.Irq.Restore(flags);
        }

        // The spurious vector needs no EOI: it was never in service.
        public static void HandleSpurious() => s_spurious++;

        public static void HandleError()
        {
            uint esr = ClearErrors();
            s_errors++;
            EndOfInterrupt();
            Log.Warn($"apic: error interrupt on cpu {Boot.CpuId}: ESR=0x{esr:x}");
        }

        // ESR is latched by a write; returns what it held.
        static uint ClearErrors()
        {
            Write(RegEsr, 0);
            uint esr = Read(RegEsr);
            Write(RegEsr, 0);
            return esr;
        }

        // Counts LAPIC timer ticks over a TSC-timed interval (the TSC is calibrated first,
        // against the PIT or, where that does not count, the HPET: see Clock.cs).
        static void CalibrateTimer()
        {
            Write(RegTimerDivide, TimerDivideBy16);
            Write(RegTimerInitial, uint.MaxValue);
            Clock.DelayMicroseconds(TimerCalibrationMs * MicrosecondsPerMs);
            uint left = Read(RegTimerCurrent);
            Write(RegTimerInitial, 0);                       // stop it
            s_timerTicksPerMs = (uint.MaxValue - left) / TimerCalibrationMs;
        }

        static uint Read(uint reg) => X2ApicMode ? (uint)Cpu.ReadMsr(ApicMode.MsrOf(reg)) : *(uint*)(s_mmio + reg);

        static void Write(uint reg, uint value)
        {
            if (X2ApicMode) Cpu.WriteMsr(ApicMode.MsrOf(reg), value);
            else *(uint*)(s_mmio + reg) = value;
        }
    }
}
