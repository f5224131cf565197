// The RSDP, the common 36-byte table header, and the RSDT/XSDT directory of tables.
// ACPI 6.5, sections 5.2.5 (RSDP), 5.2.6 (header), 5.2.7 (RSDT), 5.2.8 (XSDT).
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Acpi
{
    public struct RsdpInfo
    {
        public byte Revision;                       // 0: ACPI 1.0; 2 and up: has the XSDT fields
        public uint RsdtAddress;
        public bool HasXsdt;                        // extended part present and valid
        public ulong XsdtAddress;
        public uint Length;                         // 20 for ACPI 1.0
    }

    public static unsafe class Rsdp
    {
        public const uint V1Size = 20;
        public const uint V2Size = 36;
        // ACPI allows the extended length to grow; a sane ceiling keeps the checksum bounded.
        public const uint MaxLength = 4096;

        // p: the RSDP (e.g. the copy inside the Multiboot2 information); available: how
        // many bytes from p may be read. A revision 2 RSDP of which only the first 20
        // bytes are available (Multiboot2's old-ACPI tag) is read as revision 0.
        public static bool TryParse(byte* p, ulong available, out RsdpInfo info, out string error)
        {
            info = default;
            error = null;
            if (p == null) { error = "RSDP pointer is null"; return false; }
            if (available < V1Size) { error = "RSDP is shorter than 20 bytes"; return false; }
            if (!AcpiBytes.BytesEqual(p, "RSD PTR ")) { error = "RSDP signature is not \"RSD PTR \""; return false; }
            if (AcpiBytes.Sum(p, V1Size) != 0) { error = "RSDP checksum of the first 20 bytes is wrong"; return false; }
            info.Revision = p[15];
            info.RsdtAddress = *(uint*)(p + 16);
            info.Length = V1Size;
            if (info.Revision < 2 || available < V2Size) return true;

            uint length = *(uint*)(p + 20);
            if (length < V2Size) { error = "RSDP length is smaller than 36"; return false; }
            if (length > MaxLength) { error = "RSDP length is absurd"; return false; }
            if (length > available) { error = "RSDP length runs past the bytes available"; return false; }
            if (AcpiBytes.Sum(p, length) != 0) { error = "RSDP extended checksum is wrong"; return false; }
            info.Length = length;
            info.XsdtAddress = *(ulong*)(p + 24);
            info.HasXsdt = info.XsdtAddress != 0;
            return true;
        }
    }

    public static unsafe class AcpiTable
    {
        public const uint HeaderSize = 36;

        // Validates a table already in memory: p points to its header, available bytes are
        // readable. expectedSignature 0 accepts any. On success length is the table's length.
        public static bool Validate(byte* p, ulong available, uint expectedSignature, uint maxLength,
                                    out uint length, out string error)
        {
            length = 0;
            error = null;
            if (p == null) { error = "table pointer is null"; return false; }
            if (available < HeaderSize) { error = "table is shorter than the 36-byte header"; return false; }
            uint signature = *(uint*)p;
            if (expectedSignature != 0 && signature != expectedSignature) { error = "table signature is not the one expected"; return false; }
            uint declared = *(uint*)(p + 4);
            if (declared < HeaderSize) { error = "table length is smaller than the 36-byte header"; return false; }
            if (declared > maxLength) { error = "table length is larger than the allowed maximum"; return false; }
            if (declared > available) { error = "table runs past the readable memory"; return false; }
            if (AcpiBytes.Sum(p, declared) != 0) { error = "table checksum is wrong"; return false; }
            length = declared;
            return true;
        }

        // The same for a table at a physical address inside window. signature receives the
        // table's signature whenever its header could be read (0 otherwise), for reports.
        public static bool TryMap(PhysicalWindow window, ulong physical, uint expectedSignature, uint maxLength,
                                  out byte* table, out uint length, out uint signature, out string error)
        {
            table = null;
            length = 0;
            signature = 0;
            if (physical == 0) { error = "table address is 0"; return false; }
            if (!window.Contains(physical, HeaderSize)) { error = "table header lies outside the readable physical memory"; return false; }
            byte* p = window.Pointer(physical);
            signature = *(uint*)p;
            ulong available = window.End - physical;
            if (!Validate(p, available, expectedSignature, maxLength, out length, out error)) return false;
            table = p;
            return true;
        }

        public static uint SignatureOf(byte* table) => *(uint*)table;
        public static byte RevisionOf(byte* table) => table[8];
    }

    public struct AcpiTableEntry
    {
        public uint Signature;
        public ulong Physical;
        public uint Length;
    }

    // The tables the RSDT or XSDT lists that passed validation, in listed order.
    public sealed unsafe class AcpiTableDirectory
    {
        public const int Capacity = 64;
        // Tables larger than this are refused; real DSDTs are well below it.
        public const uint DefaultMaxTableLength = 4 * 1024 * 1024;

        readonly AcpiTableEntry[] _entries = new AcpiTableEntry[Capacity];
        int _count;
        PhysicalWindow _window;
        uint _maxTableLength;

        public readonly ProblemList Issues = new ProblemList();
        public int Count => _count;
        public AcpiTableEntry this[int index] => _entries[index];
        public bool UsesXsdt;                       // false: the RSDT was walked
        public ulong RootPhysical;
        public PhysicalWindow Window => _window;
        public uint MaxTableLength => _maxTableLength;

        // Walks the XSDT when the RSDP offers a valid one, the RSDT otherwise. A bad root
        // table fails the load; a bad table in the list is reported and skipped.
        public bool Load(RsdpInfo rsdp, PhysicalWindow window, uint maxTableLength, out string error)
        {
            _count = 0;
            Issues.Clear();
            UsesXsdt = false;
            RootPhysical = 0;
            _window = window;
            _maxTableLength = maxTableLength;
            error = null;

            byte* root = null;
            uint rootLength = 0, signature;
            string rootError = null;
            if (rsdp.HasXsdt)
            {
                if (AcpiTable.TryMap(window, rsdp.XsdtAddress, AcpiSignature.Xsdt, maxTableLength,
                                     out root, out rootLength, out signature, out rootError))
                {
                    UsesXsdt = true;
                    RootPhysical = rsdp.XsdtAddress;
                }
                else
                {
                    Issues.Add(AcpiSignature.Xsdt, rsdp.XsdtAddress, rootError);
                    root = null;
                }
            }
            if (root == null)
            {
                if (rsdp.RsdtAddress == 0)
                {
                    error = rootError != null ? "XSDT is invalid and there is no RSDT" : "RSDP names no RSDT";
                    return false;
                }
                if (!AcpiTable.TryMap(window, rsdp.RsdtAddress, AcpiSignature.Rsdt, maxTableLength,
                                      out root, out rootLength, out signature, out rootError))
                {
                    error = rootError;
                    return false;
                }
                RootPhysical = rsdp.RsdtAddress;
            }

            uint entrySize = UsesXsdt ? 8u : 4u;
            uint body = rootLength - AcpiTable.HeaderSize;
            uint count = body / entrySize;
            uint rootSignature = AcpiTable.SignatureOf(root);
            if (body % entrySize != 0) Issues.Add(rootSignature, RootPhysical, "root table ends with a partial entry; it is ignored");
            for (uint i = 0; i < count; i++)
            {
                byte* e = root + AcpiTable.HeaderSize + i * entrySize;
                ulong address = UsesXsdt ? *(ulong*)e : *(uint*)e;
                byte* table;
                uint length;
                string tableError;
                if (!AcpiTable.TryMap(window, address, 0, maxTableLength, out table, out length, out signature, out tableError))
                {
                    Issues.Add(signature != 0 ? signature : rootSignature, address, tableError);
                    continue;
                }
                if (_count == Capacity)
                {
                    Issues.Add(rootSignature, RootPhysical, "root table lists more than 64 tables; the rest are ignored");
                    break;
                }
                _entries[_count].Signature = signature;
                _entries[_count].Physical = address;
                _entries[_count].Length = length;
                _count++;
            }
            return true;
        }

        // The instance-th (0-based) table with this signature, e.g. Find("SSDT", 1, ...).
        public bool Find(uint signature, int instance, out AcpiTableEntry entry)
        {
            entry = default;
            for (int i = 0; i < _count; i++)
            {
                if (_entries[i].Signature != signature) continue;
                if (instance-- > 0) continue;
                entry = _entries[i];
                return true;
            }
            return false;
        }

        public bool Find(string signature, out AcpiTableEntry entry) => Find(AcpiBytes.Signature(signature), 0, out entry);

        // A pointer to a table found above (already validated against the window).
        public byte* Map(AcpiTableEntry entry) => _window.Pointer(entry.Physical);

        // Maps and validates a table that is not listed in the root table (the DSDT).
        public bool MapUnlisted(ulong physical, uint signature, out byte* table, out uint length, out string error)
        {
            uint seen;
            return AcpiTable.TryMap(_window, physical, signature, _maxTableLength,
                                    out table, out length, out seen, out error);
        }
    }
}
