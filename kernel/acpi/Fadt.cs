// The Fixed ACPI Description Table ("FACP"): the fields power off and reset need.
// ACPI 6.5 section 5.2.9. The table grew over the revisions; a field is read only when
// the table is long enough to hold it, and the 64-bit X_ fields win over the legacy
// 32-bit ones when present and non-zero (as the specification asks).
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Acpi
{
    // Generic Address Structure (ACPI 6.5 section 5.2.3.2).
    public struct GenericAddress
    {
        public const byte SystemMemory = 0;
        public const byte SystemIo = 1;
        public const byte PciConfiguration = 2;

        public byte AddressSpace;
        public byte BitWidth;
        public byte BitOffset;
        public byte AccessSize;                     // 0 undefined, 1 byte, 2 word, 3 dword, 4 qword
        public ulong Address;

        public bool Present => Address != 0;
        public bool IsSystemIo => AddressSpace == SystemIo;
    }

    public static class FadtFlags
    {
        public const uint ResetRegisterSupported = 1u << 10;   // RESET_REG_SUP
        public const uint HardwareReduced = 1u << 20;          // HW_REDUCED_ACPI
    }

    public struct FadtInfo
    {
        public byte Revision;
        public uint Length;
        public uint Flags;
        public ulong Dsdt;                          // X_DSDT when non-zero, else DSDT
        public ushort SciInterrupt;
        public uint SmiCommand;                     // I/O port; 0: no SMI command (always ACPI mode)
        public byte AcpiEnable, AcpiDisable;
        public GenericAddress Pm1aEvent, Pm1bEvent; // PM1 event blocks (status then enable halves)
        public byte Pm1EventLength;                 // bytes of each event block
        public GenericAddress Pm1aControl, Pm1bControl;
        public byte Pm1ControlLength;
        public bool ResetSupported;                 // flag set, table long enough, register present
        public GenericAddress ResetRegister;
        public byte ResetValue;

        public bool HardwareReduced => (Flags & FadtFlags.HardwareReduced) != 0;
    }

    public static unsafe class Fadt
    {
        public const uint Acpi1Length = 116;        // up to and including Flags
        const uint ResetFieldsEnd = 129;            // RESET_REG (116..128) and RESET_VALUE (128)
        const uint XDsdtEnd = 148;
        const uint GasSize = 12;

        // table: a validated FADT (checksum already checked), length bytes readable.
        public static bool TryParse(byte* table, uint length, out FadtInfo info, out string error)
        {
            info = default;
            error = null;
            if (table == null) { error = "FADT pointer is null"; return false; }
            if (length < AcpiTable.HeaderSize || AcpiTable.SignatureOf(table) != AcpiSignature.Fadt)
            {
                error = "table is not a FADT";
                return false;
            }
            if (length < Acpi1Length) { error = "FADT is shorter than the 116 bytes of ACPI 1.0"; return false; }
            if (*(uint*)(table + 4) < length) length = *(uint*)(table + 4);   // never trust past the header's own length
            if (length < Acpi1Length) { error = "FADT is shorter than the 116 bytes of ACPI 1.0"; return false; }

            info.Revision = AcpiTable.RevisionOf(table);
            info.Length = length;
            info.Dsdt = *(uint*)(table + 40);
            info.SciInterrupt = *(ushort*)(table + 46);
            info.SmiCommand = *(uint*)(table + 48);
            info.AcpiEnable = table[52];
            info.AcpiDisable = table[53];
            info.Pm1EventLength = table[88];
            info.Pm1ControlLength = table[89];
            info.Flags = *(uint*)(table + 112);
            info.Pm1aEvent = Legacy(*(uint*)(table + 56), info.Pm1EventLength);
            info.Pm1bEvent = Legacy(*(uint*)(table + 60), info.Pm1EventLength);
            info.Pm1aControl = Legacy(*(uint*)(table + 64), info.Pm1ControlLength);
            info.Pm1bControl = Legacy(*(uint*)(table + 68), info.Pm1ControlLength);

            if (length >= ResetFieldsEnd && (info.Flags & FadtFlags.ResetRegisterSupported) != 0)
            {
                info.ResetRegister = ReadGas(table + 116);
                info.ResetValue = table[128];
                info.ResetSupported = info.ResetRegister.Present;
            }
            if (length >= XDsdtEnd)
            {
                ulong xDsdt = *(ulong*)(table + 140);
                if (xDsdt != 0) info.Dsdt = xDsdt;
            }
            PreferExtended(table, length, 148, ref info.Pm1aEvent);
            PreferExtended(table, length, 160, ref info.Pm1bEvent);
            PreferExtended(table, length, 172, ref info.Pm1aControl);
            PreferExtended(table, length, 184, ref info.Pm1bControl);

            if (!info.HardwareReduced && !info.Pm1aControl.Present)
            {
                error = "FADT has no PM1a control block";
                return false;
            }
            return true;
        }

        static GenericAddress Legacy(uint port, byte length)
        {
            GenericAddress g = default;
            if (port == 0) return g;
            g.AddressSpace = GenericAddress.SystemIo;
            g.BitWidth = (byte)(length * 8);
            g.Address = port;
            return g;
        }

        static GenericAddress ReadGas(byte* p)
        {
            GenericAddress g;
            g.AddressSpace = p[0];
            g.BitWidth = p[1];
            g.BitOffset = p[2];
            g.AccessSize = p[3];
            g.Address = *(ulong*)(p + 4);
            return g;
        }

        static void PreferExtended(byte* table, uint length, uint offset, ref GenericAddress legacy)
        {
            if (length < offset + GasSize) return;
            GenericAddress x = ReadGas(table + offset);
            if (x.Present) legacy = x;
        }
    }
}
