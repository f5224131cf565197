using System.Buffers.Binary;
using System.Text;

namespace Percy.Build;

/// <summary>One section header of an ELF64 file.</summary>
internal sealed record ElfSection(string Name, uint Type, ulong Flags, ulong Offset, ulong Size)
{
    public const uint NoBits = 8;                       // SHT_NOBITS (.bss)
    public const ulong Alloc = 0x2, Exec = 0x4, Write = 0x1, Tls = 0x400;

    public bool IsAllocated => (Flags & Alloc) != 0;
}

/// <summary>
/// The ELF64 header fields and section headers of a module object (.kmod), read in process:
/// what the module build checks (type, machine) and reports (section sizes). Symbols come
/// from <see cref="ElfSymbols"/>.
/// </summary>
internal sealed class ElfObject
{
    public const ushort Relocatable = 1;                // ET_REL
    public const ushort MachineX86_64 = 62;             // EM_X86_64

    private const int Class64 = 2, LittleEndian = 1;
    private const int HeaderSize = 64, SectionHeaderSize = 64;

    private readonly byte[] _image;

    private ElfObject(byte[] image, ushort type, ushort machine, List<ElfSection> sections)
    {
        _image = image;
        Type = type;
        Machine = machine;
        Sections = sections;
    }

    public ushort Type { get; }

    public ushort Machine { get; }

    public IReadOnlyList<ElfSection> Sections { get; }

    /// <summary>Reads <paramref name="path"/>; null and a reason if it is not a well-formed little-endian ELF64 file.</summary>
    public static ElfObject? Read(string path, out string? problem)
    {
        byte[] b = File.ReadAllBytes(path);
        problem = null;
        if (b.Length < HeaderSize || b[0] != 0x7F || b[1] != 'E' || b[2] != 'L' || b[3] != 'F' || b[4] != Class64 || b[5] != LittleEndian)
        {
            problem = "not a little-endian ELF64 file";
            return null;
        }

        ulong shoff = U64(b, 0x28);
        int shentsize = U16(b, 0x3A), shnum = U16(b, 0x3C), shstrndx = U16(b, 0x3E);
        if (shentsize != SectionHeaderSize || shstrndx >= shnum || shoff + (ulong)(shnum * shentsize) > (ulong)b.Length)
        {
            problem = "bad section header table";
            return null;
        }

        var raw = new List<(uint Name, uint Type, ulong Flags, ulong Offset, ulong Size)>();
        for (int i = 0; i < shnum; i++)
        {
            int h = (int)shoff + i * shentsize;
            raw.Add((U32(b, h), U32(b, h + 4), U64(b, h + 8), U64(b, h + 24), U64(b, h + 32)));
        }

        ulong names = raw[shstrndx].Offset;
        var sections = new List<ElfSection>();
        foreach (var s in raw)
        {
            if (s.Type != ElfSection.NoBits && s.Offset + s.Size > (ulong)b.Length)
            {
                problem = "a section lies outside the file";
                return null;
            }

            sections.Add(new ElfSection(CString(b, names + s.Name), s.Type, s.Flags, s.Offset, s.Size));
        }

        return new ElfObject(b, U16(b, 0x10), U16(b, 0x12), sections);
    }

    /// <summary>The NUL-terminated strings of a section (.modinfo, .percy_exports); none if it is absent.</summary>
    public IReadOnlyList<string> Strings(string section)
    {
        ElfSection? s = Sections.FirstOrDefault(x => x.Name == section);
        if (s is null)
        {
            return [];
        }

        return Encoding.ASCII.GetString(_image, (int)s.Offset, (int)s.Size).Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    private static ushort U16(byte[] b, int at) => BinaryPrimitives.ReadUInt16LittleEndian(b.AsSpan(at));

    private static uint U32(byte[] b, int at) => BinaryPrimitives.ReadUInt32LittleEndian(b.AsSpan(at));

    private static ulong U64(byte[] b, int at) => BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(at));

    private static string CString(byte[] b, ulong at)
    {
        int start = (int)at, end = start;
        while (end < b.Length && b[end] != 0)
        {
            end++;
        }

        return Encoding.ASCII.GetString(b, start, end - start);
    }
}
