// The Multiple APIC Description Table ("APIC"): CPUs (local APIC and local x2APIC
// entries), I/O APICs, interrupt source overrides, and the local APIC address (with its
// 64-bit override). ACPI 6.5 section 5.2.12. Entries are type u8, length u8, contents;
// an entry shorter than its type needs is reported and skipped, an entry whose length
// is unusable ends the walk (the next entry cannot be found).
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Acpi
{
    public static class MadtEntryType
    {
        public const byte LocalApic = 0;
        public const byte IoApic = 1;
        public const byte InterruptSourceOverride = 2;
        public const byte NmiSource = 3;
        public const byte LocalApicNmi = 4;
        public const byte LocalApicAddressOverride = 5;
        public const byte LocalX2Apic = 9;
        public const byte LocalX2ApicNmi = 10;
    }

    public struct MadtCpu
    {
        public uint ApicId;
        public uint AcpiUid;                        // ACPI processor UID
        public bool Enabled;                        // usable now
        public bool OnlineCapable;                  // disabled, but may be brought online
        public bool IsX2Apic;                       // from a local x2APIC entry (type 9)
        public bool Usable => Enabled || OnlineCapable;
    }

    public struct MadtIoApic
    {
        public byte Id;
        public uint Address;
        public uint GsiBase;
    }

    public struct MadtInterruptOverride
    {
        public byte Bus;                            // 0: ISA
        public byte Source;                         // ISA IRQ
        public uint Gsi;
        public ushort Flags;                        // MPS INTI flags: polarity bits 1-0, trigger bits 3-2
    }

    public sealed class MadtInfo
    {
        public const int MaxCpus = 256;
        public const int MaxIoApics = 16;
        public const int MaxOverrides = 32;

        public ulong LocalApicAddress;              // the 32-bit field, or the type 5 override
        public uint Flags;                          // bit 0: PC-AT compatible (8259s present)
        public bool PcAtCompatible => (Flags & 1) != 0;

        public readonly MadtCpu[] Cpus = new MadtCpu[MaxCpus];
        public int CpuCount;
        public bool CpusTruncated;                  // more CPU entries than MaxCpus
        public readonly MadtIoApic[] IoApics = new MadtIoApic[MaxIoApics];
        public int IoApicCount;
        public readonly MadtInterruptOverride[] Overrides = new MadtInterruptOverride[MaxOverrides];
        public int OverrideCount;
        public readonly ProblemList Issues = new ProblemList();

        public int EnabledCpuCount
        {
            get
            {
                int n = 0;
                for (int i = 0; i < CpuCount; i++) if (Cpus[i].Enabled) n++;
                return n;
            }
        }

        public void Clear()
        {
            LocalApicAddress = 0;
            Flags = 0;
            CpuCount = 0;
            CpusTruncated = false;
            IoApicCount = 0;
            OverrideCount = 0;
            Issues.Clear();
        }
    }

    public static unsafe class Madt
    {
        const uint FixedPart = 44;                  // header, local APIC address u32, flags u32
        const uint EnabledFlag = 1, OnlineCapableFlag = 2;

        // table: a validated MADT (checksum already checked), length bytes readable.
        public static bool TryParse(byte* table, uint length, MadtInfo result, out string error)
        {
            error = null;
            if (result == null) { error = "no result object"; return false; }
            result.Clear();
            if (table == null) { error = "MADT pointer is null"; return false; }
            if (length < AcpiTable.HeaderSize || AcpiTable.SignatureOf(table) != AcpiSignature.Madt) { error = "table is not a MADT"; return false; }
            if (*(uint*)(table + 4) < length) length = *(uint*)(table + 4);
            if (length < FixedPart) { error = "MADT is shorter than its 44-byte fixed part"; return false; }
            result.LocalApicAddress = *(uint*)(table + 36);
            result.Flags = *(uint*)(table + 40);

            uint offset = FixedPart;
            while (offset < length)
            {
                if (length - offset < 2) { result.Issues.Add(AcpiSignature.Madt, offset, "MADT ends with a partial entry header"); break; }
                byte* e = table + offset;
                byte type = e[0];
                uint size = e[1];
                if (size < 2) { result.Issues.Add(type, offset, "MADT entry length is smaller than 2; the entries after it are unreadable"); break; }
                if (size > length - offset) { result.Issues.Add(type, offset, "MADT entry runs past the end of the table"); break; }
                ParseEntry(e, type, size, offset, result);
                offset += size;
            }
            return true;
        }

        static void ParseEntry(byte* e, byte type, uint size, uint offset, MadtInfo r)
        {
            switch (type)
            {
                case MadtEntryType.LocalApic:
                    if (size < 8) { r.Issues.Add(type, offset, "local APIC entry is shorter than 8 bytes"); return; }
                    AddCpu(r, e[3], e[2], *(uint*)(e + 4), false, type, offset);
                    return;
                case MadtEntryType.LocalX2Apic:
                    if (size < 16) { r.Issues.Add(type, offset, "local x2APIC entry is shorter than 16 bytes"); return; }
                    AddCpu(r, *(uint*)(e + 4), *(uint*)(e + 12), *(uint*)(e + 8), true, type, offset);
                    return;
                case MadtEntryType.IoApic:
                    if (size < 12) { r.Issues.Add(type, offset, "I/O APIC entry is shorter than 12 bytes"); return; }
                    if (r.IoApicCount == MadtInfo.MaxIoApics) { r.Issues.Add(type, offset, "more than 16 I/O APICs; the rest are ignored"); return; }
                    r.IoApics[r.IoApicCount].Id = e[2];
                    r.IoApics[r.IoApicCount].Address = *(uint*)(e + 4);
                    r.IoApics[r.IoApicCount].GsiBase = *(uint*)(e + 8);
                    r.IoApicCount++;
                    return;
                case MadtEntryType.InterruptSourceOverride:
                    if (size < 10) { r.Issues.Add(type, offset, "interrupt source override entry is shorter than 10 bytes"); return; }
                    if (r.OverrideCount == MadtInfo.MaxOverrides) { r.Issues.Add(type, offset, "more than 32 interrupt source overrides; the rest are ignored"); return; }
                    r.Overrides[r.OverrideCount].Bus = e[2];
                    r.Overrides[r.OverrideCount].Source = e[3];
                    r.Overrides[r.OverrideCount].Gsi = *(uint*)(e + 4);
                    r.Overrides[r.OverrideCount].Flags = *(ushort*)(e + 8);
                    r.OverrideCount++;
                    return;
                case MadtEntryType.LocalApicAddressOverride:
                    if (size < 12) { r.Issues.Add(type, offset, "local APIC address override entry is shorter than 12 bytes"); return; }
                    r.LocalApicAddress = *(ulong*)(e + 4);
                    return;
                default:
                    return;                         // entries Percy does not use
            }
        }

        static void AddCpu(MadtInfo r, uint apicId, uint uid, uint flags, bool x2apic, byte type, uint offset)
        {
            bool usable = (flags & (EnabledFlag | OnlineCapableFlag)) != 0;
            int n = -1;
            for (int i = 0; i < r.CpuCount; i++)
            {
                if (r.Cpus[i].ApicId != apicId) continue;
                // Firmware often lists absent CPUs with a repeated placeholder id: only a
                // clash between CPUs that can run is a problem. A usable entry replaces an
                // unusable one with its id.
                if (!usable) return;
                if (r.Cpus[i].Usable)
                {
                    r.Issues.Add(type, offset, "duplicate APIC id; the later entry is ignored");
                    return;
                }
                n = i;
                break;
            }
            if (n < 0)
            {
                if (r.CpuCount == MadtInfo.MaxCpus)
                {
                    if (!r.CpusTruncated) r.Issues.Add(type, offset, "more than 256 CPU entries; the rest are ignored");
                    r.CpusTruncated = true;
                    return;
                }
                n = r.CpuCount++;
            }
            r.Cpus[n].ApicId = apicId;
            r.Cpus[n].AcpiUid = uid;
            r.Cpus[n].Enabled = (flags & EnabledFlag) != 0;
            r.Cpus[n].OnlineCapable = (flags & EnabledFlag) == 0 && (flags & OnlineCapableFlag) != 0;
            r.Cpus[n].IsX2Apic = x2apic;
        }
    }
}
