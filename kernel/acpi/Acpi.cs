// The kernel's use of the ACPI tables at boot: find the RSDP (from the boot loader, or
// by the BIOS-area scan), load the RSDT/XSDT directory, log what is there the way
// Linux does, and hand the FADT's power controls to the power manager. Problems are
// logged one line each and leave the kernel running without the feature.
using Percy.Kernel.Mm;
using Percy.Kernel.Multiboot;
using Percy.Kernel.Power;

namespace Percy.Kernel.Acpi
{
    internal static unsafe class AcpiBoot
    {
        // The BIOS keeps the RSDP on a 16-byte boundary in 0xE0000..0xFFFFF.
        const ulong BiosAreaStart = 0xE0000, BiosAreaEnd = 0x100000, RsdpAlignment = 16;
        const int SoftOff = 5;

        public static AcpiTableDirectory Tables;
        public static MadtInfo Madt;

        // CPUs the firmware says exist or may come online; 1 when ACPI says nothing.
        public static int PossibleCpuCount()
        {
            if (Madt == null) return 1;
            int n = 0;
            for (int i = 0; i < Madt.CpuCount; i++) if (Madt.Cpus[i].Usable) n++;
            return n == 0 ? 1 : n;
        }

        public static void Init(BootInformation info)
        {
            if (!FindRsdp(info, out RsdpInfo rsdp)) return;
            var window = new PhysicalWindow(0, DirectMap.Limit, DirectMap.Offset);
            Tables = new AcpiTableDirectory();
            if (!Tables.Load(rsdp, window, AcpiTableDirectory.DefaultMaxTableLength, out string error))
            {
                Log.Warn($"acpi: warning: {error}; ACPI not used");
                Tables = null;
                return;
            }
            for (int i = 0; i < Tables.Issues.Count; i++)
                Log.Warn($"acpi: warning: table at {Tables.Issues[i].Address:x}: {Tables.Issues[i].Reason}; skipped");
            for (int i = 0; i < Tables.Count; i++)
            {
                AcpiTableEntry t = Tables[i];
                TextLine line = $"acpi: ";
                for (int k = 0; k < 4; k++) line.Append((char)(t.Signature >> (8 * k) & 0xFF));
                line.AppendFormatted($" 0x{t.Physical:X16} {t.Length:X6}");
                Log.Info(line);
            }
            ReserveTables(rsdp, window);
            SetUpPower(window);
            LoadMadt(window);
        }

        // Tables may sit in RAM the map calls usable; bootmem must not hand them out.
        static void ReserveTables(RsdpInfo rsdp, PhysicalWindow window)
        {
            if (AcpiTable.TryMap(window, Tables.RootPhysical, 0, Tables.MaxTableLength, out _, out uint rootLength, out _, out _))
                PhysicalMemory.Reserve(Tables.RootPhysical, rootLength, "ACPI tables");
            for (int i = 0; i < Tables.Count; i++) PhysicalMemory.Reserve(Tables[i].Physical, Tables[i].Length, "ACPI tables");
            if (Tables.Find(AcpiSignature.Fadt, 0, out AcpiTableEntry fadtEntry)
                && Fadt.TryParse(window.Pointer(fadtEntry.Physical), fadtEntry.Length, out FadtInfo fadt, out _)
                && AcpiTable.TryMap(window, fadt.Dsdt, AcpiSignature.Dsdt, Tables.MaxTableLength, out _, out uint dsdtLength, out _, out _))
                PhysicalMemory.Reserve(fadt.Dsdt, dsdtLength, "ACPI tables");
        }

        static void LoadMadt(PhysicalWindow window)
        {
            if (!Tables.Find(AcpiSignature.Madt, 0, out AcpiTableEntry entry))
            {
                Log.Warn("acpi: warning: no MADT; one CPU assumed");
                return;
            }
            var madt = new MadtInfo();
            if (!Acpi.Madt.TryParse(window.Pointer(entry.Physical), entry.Length, madt, out string error))
            {
                Log.Warn($"acpi: warning: MADT: {error}; one CPU assumed");
                return;
            }
            for (int i = 0; i < madt.Issues.Count; i++)
                Log.Warn($"acpi: warning: MADT entry at +{madt.Issues[i].Address}: {madt.Issues[i].Reason}; skipped");
            Madt = madt;
        }

        static bool FindRsdp(BootInformation info, out RsdpInfo rsdp)
        {
            string error;
            if (info.RsdpVersion != 0)
            {
                if (Rsdp.TryParse(info.Rsdp, info.RsdpLength, out rsdp, out error)) return true;
                Log.Warn($"acpi: warning: the boot loader's RSDP copy is bad: {error}; scanning the BIOS area");
            }
            for (ulong p = BiosAreaStart; p < BiosAreaEnd; p += RsdpAlignment)
                if (Rsdp.TryParse(DirectMap.ToVirtual(p), BiosAreaEnd - p, out rsdp, out error)) return true;
            rsdp = default;
            Log.Warn("acpi: warning: no RSDP found; no ACPI tables (no power off, CPUs from ACPI unknown)");
            return false;
        }

        static void SetUpPower(PhysicalWindow window)
        {
            if (!Tables.Find(AcpiSignature.Fadt, 0, out AcpiTableEntry entry))
            {
                Log.Warn("acpi: warning: no FADT; power off unavailable");
                return;
            }
            if (!Fadt.TryParse(window.Pointer(entry.Physical), entry.Length, out FadtInfo fadt, out string error))
            {
                Log.Warn($"acpi: warning: FADT: {error}; power off unavailable");
                return;
            }
            PowerControl control = default;
            if (fadt.ResetSupported && fadt.ResetRegister.AddressSpace == GenericAddress.SystemIo)
            {
                control.ResetRegisterPresent = true;
                control.ResetPort = (ushort)fadt.ResetRegister.Address;
                control.ResetValue = fadt.ResetValue;
            }
            if (FindSleepType(window, fadt.Dsdt, out byte slpA, out byte slpB, out error)
                && fadt.Pm1aControl.AddressSpace == GenericAddress.SystemIo && fadt.Pm1aControl.Address != 0)
            {
                control.SleepStateKnown = true;
                control.SleepTypeA = slpA;
                control.SleepTypeB = slpB;
                control.Pm1aControl = (ushort)fadt.Pm1aControl.Address;
                control.Pm1bControl = fadt.Pm1bControl.AddressSpace == GenericAddress.SystemIo ? (ushort)fadt.Pm1bControl.Address : (ushort)0;
                control.SmiCommand = (ushort)fadt.SmiCommand;
                control.AcpiEnable = fadt.AcpiEnable;
                Log.Info($"acpi: S5 SLP_TYP={slpA}/{slpB} PM1a_CNT=0x{control.Pm1aControl:x} reset={(control.ResetRegisterPresent ? "reg" : "8042")}");
            }
            else Log.Warn($"acpi: warning: no usable \\_S5_: {(error ?? "PM1 control block is not in I/O space")}; power off unavailable");
            PowerManager.Control = control;
        }

        // \_S5_ lives in the DSDT on most machines, in an SSDT on some.
        static bool FindSleepType(PhysicalWindow window, ulong dsdt, out byte a, out byte b, out string error)
        {
            if (AcpiTable.TryMap(window, dsdt, AcpiSignature.Dsdt, Tables.MaxTableLength, out byte* table, out uint length, out _, out error)
                && AmlSleepState.TryFindInTable(table, length, SoftOff, out a, out b, out error))
                return true;
            for (int i = 0; Tables.Find(AcpiSignature.Ssdt, i, out AcpiTableEntry ssdt); i++)
                if (AmlSleepState.TryFindInTable(window.Pointer(ssdt.Physical), ssdt.Length, SoftOff, out a, out b, out _))
                    return true;
            a = b = 0;
            return false;
        }
    }
}
