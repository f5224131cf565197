// Finds the sleep-type values of an ACPI sleep state (\_S5_ for soft-off) in AML bytes
// without an interpreter: look for the NameOp that defines `_S5_` with a package, decode
// the package, read its first elements as integer constants. The encodings (ACPI 6.5
// chapter 20): DefName := NameOp(0x08) NameString DataRefObject; DefPackage :=
// PackageOp(0x12) PkgLength NumElements PackageElementList; PkgLength: lead byte bits
// 7-6 = count of extra bytes, one byte: bits 5-0 are the length; more: bits 3-0 are the
// low nibble and each extra byte adds 8 bits above it (bits 5-4 must be 0); the length
// counts from the PkgLength itself. Integers: ZeroOp 0x00, OneOp 0x01, OnesOp 0xFF,
// BytePrefix 0x0A, WordPrefix 0x0B, DWordPrefix 0x0C, QWordPrefix 0x0E.
// As in ACPICA, a package of one integer holds SLP_TYPa in bits 7-0 and SLP_TYPb in
// bits 15-8; otherwise the first two elements are SLP_TYPa and SLP_TYPb.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Acpi
{
    public static unsafe class AmlSleepState
    {
        const byte NameOp = 0x08, PackageOp = 0x12, RootChar = 0x5C, ParentPrefix = 0x5E;
        const byte ZeroOp = 0x00, OneOp = 0x01, OnesOp = 0xFF;
        const byte BytePrefix = 0x0A, WordPrefix = 0x0B, DWordPrefix = 0x0C, QWordPrefix = 0x0E;
        const uint MaxSleepType = 7;                // SLP_TYP is a 3-bit field of PM1 control

        // A whole DSDT or SSDT (header included; the header is skipped).
        public static bool TryFindInTable(byte* table, uint length, int state, out byte sleepTypeA, out byte sleepTypeB, out string error)
        {
            sleepTypeA = 0;
            sleepTypeB = 0;
            if (table == null || length < AcpiTable.HeaderSize) { error = "AML table is shorter than its header"; return false; }
            return TryFind(table + AcpiTable.HeaderSize, length - AcpiTable.HeaderSize, state, out sleepTypeA, out sleepTypeB, out error);
        }

        // aml[0..length) is readable. state: 0..5 (\_S0_ .. \_S5_).
        public static bool TryFind(byte* aml, uint length, int state, out byte sleepTypeA, out byte sleepTypeB, out string error)
        {
            sleepTypeA = 0;
            sleepTypeB = 0;
            error = null;
            if (state < 0 || state > 5) { error = "sleep state is not 0 to 5"; return false; }
            if (aml == null) { error = "AML pointer is null"; return false; }
            byte digit = (byte)('0' + state);
            string lastError = null;
            for (uint i = 0; length >= 4 && i <= length - 4; i++)
            {
                if (aml[i] != (byte)'_' || aml[i + 1] != (byte)'S' || aml[i + 2] != digit || aml[i + 3] != (byte)'_') continue;
                if (!PrecededByNameOp(aml, i)) continue;
                if (i + 4 >= length || aml[i + 4] != PackageOp) continue;     // a name that is not a package
                string reason;
                if (TryDecodePackage(aml, i + 5, length, out sleepTypeA, out sleepTypeB, out reason)) return true;
                lastError = reason;
            }
            error = lastError != null ? lastError : "no sleep-state package (\\_Sx_) in the AML";
            return false;
        }

        // NameOp NameSeg, NameOp '\' NameSeg or NameOp '^'... NameSeg.
        static bool PrecededByNameOp(byte* aml, uint at)
        {
            uint j = at;
            while (j > 0 && aml[j - 1] == ParentPrefix) j--;
            if (j == at && j > 0 && aml[j - 1] == RootChar) j--;
            return j > 0 && aml[j - 1] == NameOp;
        }

        // pos: the PkgLength byte after PackageOp.
        static bool TryDecodePackage(byte* aml, uint pos, uint length, out byte a, out byte b, out string error)
        {
            a = 0;
            b = 0;
            error = null;
            if (pos >= length) { error = "sleep-state package is cut off after PackageOp"; return false; }
            byte lead = aml[pos];
            uint extra = (uint)(lead >> 6);
            uint pkgLength;
            if (extra == 0) pkgLength = (uint)(lead & 0x3F);
            else
            {
                if ((lead & 0x30) != 0) { error = "sleep-state PkgLength has reserved bits set"; return false; }
                if (extra > length - pos - 1) { error = "sleep-state PkgLength runs past the end of the AML"; return false; }
                pkgLength = (uint)(lead & 0x0F);
                for (uint k = 0; k < extra; k++) pkgLength |= (uint)aml[pos + 1 + k] << (int)(4 + 8 * k);
            }
            if (pkgLength < extra + 2) { error = "sleep-state PkgLength is too small for its package"; return false; }
            if (pkgLength > length - pos) { error = "sleep-state package runs past the end of the AML"; return false; }
            uint end = pos + pkgLength;
            uint p = pos + extra + 1;
            uint count = aml[p++];
            if (count == 0) { error = "sleep-state package is empty"; return false; }

            ulong first, second = 0;
            if (!TryReadInteger(aml, ref p, end, out first, out error)) return false;
            if (count == 1)
            {
                if (first > 0xFFFF) { error = "sleep-state value does not fit SLP_TYPa and SLP_TYPb"; return false; }
                second = (first >> 8) & 0xFF;
                first &= 0xFF;
            }
            else if (!TryReadInteger(aml, ref p, end, out second, out error)) return false;
            if (first > MaxSleepType || second > MaxSleepType) { error = "SLP_TYP value does not fit the 3-bit field"; return false; }
            a = (byte)first;
            b = (byte)second;
            return true;
        }

        static bool TryReadInteger(byte* aml, ref uint p, uint end, out ulong value, out string error)
        {
            value = 0;
            error = null;
            if (p >= end) { error = "sleep-state package ends before its elements"; return false; }
            byte op = aml[p++];
            uint size;
            switch (op)
            {
                case ZeroOp: value = 0; return true;
                case OneOp: value = 1; return true;
                case OnesOp: value = ulong.MaxValue; return true;
                case BytePrefix: size = 1; break;
                case WordPrefix: size = 2; break;
                case DWordPrefix: size = 4; break;
                case QWordPrefix: size = 8; break;
                default: error = "sleep-state element is not an integer constant"; return false;
            }
            if (size > end - p) { error = "sleep-state integer runs past the end of its package"; return false; }
            for (uint k = 0; k < size; k++) value |= (ulong)aml[p + k] << (int)(8 * k);
            p += size;
            return true;
        }
    }
}
