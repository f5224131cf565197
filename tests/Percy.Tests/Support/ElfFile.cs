using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;

namespace Percy.Tests.Support;

// The ELF64 files the build produces (percy.elf, the .kmod modules), read for the tests:
// header, segments, sections, the symbol table and relocations. Trusts its input (the
// kernel's own loader validates; this is test support for files the build just wrote).
public sealed class ElfFile
{
    public const ushort Relocatable = 1, MachineX86_64 = 62;
    public const uint SymTab = 2, Rela = 4, NoBits = 8;
    public const ulong FlagWrite = 0x1, FlagAlloc = 0x2, FlagExec = 0x4, FlagTls = 0x400;
    public const byte BindLocal = 0, BindGlobal = 1;
    public const ushort Undefined = 0;
    public const uint R_X86_64_64 = 1, R_X86_64_PC32 = 2, R_X86_64_PLT32 = 4;

    public sealed record Section(int Index, string Name, uint Type, ulong Flags, ulong Addr, ulong Offset, ulong Size, uint Link, uint Info);
    public sealed record Symbol(string Name, ulong Value, ulong Size, byte Bind, byte Type, ushort SectionIndex);
    public sealed record Segment(uint Type, ulong Offset, ulong VAddr, ulong PAddr, ulong FileSize);
    public sealed record Relocation(ulong Offset, uint Type, Symbol Symbol, long Addend);

    public byte[] Image { get; private init; }
    public ushort Type { get; private init; }
    public ushort Machine { get; private init; }
    public List<Segment> Segments { get; } = new();
    public List<Section> Sections { get; } = new();
    public List<Symbol> SymbolList { get; } = new();
    // By name; a later symbol of the same name replaces an earlier one.
    public Dictionary<string, Symbol> Symbols { get; } = new();

    public int SectionIndex(string name) => Sections.FindIndex(s => s.Name == name);
    public Section Find(string name) => Sections.FirstOrDefault(s => s.Name == name);
    public string SectionOf(Symbol s) => s.SectionIndex < Sections.Count ? Sections[s.SectionIndex].Name : null;

    public ReadOnlySpan<byte> Contents(Section s) => Image.AsSpan((int)s.Offset, s.Type == NoBits ? 0 : (int)s.Size);

    // NUL-terminated strings of a section (.modinfo, .percy_exports); none if it is absent.
    public IReadOnlyList<string> Strings(string section)
    {
        Section s = Find(section);
        return s == null ? Array.Empty<string>() : Encoding.ASCII.GetString(Contents(s)).Split('\0', StringSplitOptions.RemoveEmptyEntries);
    }

    // The relocations that apply to `section` (from its SHT_RELA section).
    public List<Relocation> RelocationsOf(string section)
    {
        int target = SectionIndex(section);
        var result = new List<Relocation>();
        foreach (Section rela in Sections.Where(s => s.Type == Rela && s.Info == target))
        {
            for (ulong at = rela.Offset; at < rela.Offset + rela.Size; at += 24)
            {
                ulong info = BitConverter.ToUInt64(Image, (int)at + 8);
                result.Add(new Relocation(BitConverter.ToUInt64(Image, (int)at), (uint)info, SymbolList[(int)(info >> 32)],
                    BitConverter.ToInt64(Image, (int)at + 16)));
            }
        }
        return result;
    }

    static string CString(byte[] b, int at)
    {
        int end = at;
        while (b[end] != 0) end++;
        return Encoding.ASCII.GetString(b, at, end - at);
    }

    public static ElfFile Read(string path)
    {
        byte[] b = File.ReadAllBytes(path);
        var e = new ElfFile { Image = b, Type = BitConverter.ToUInt16(b, 0x10), Machine = BitConverter.ToUInt16(b, 0x12) };
        ulong phoff = BitConverter.ToUInt64(b, 0x20), shoff = BitConverter.ToUInt64(b, 0x28);
        ushort phentsize = BitConverter.ToUInt16(b, 0x36), phnum = BitConverter.ToUInt16(b, 0x38);
        ushort shentsize = BitConverter.ToUInt16(b, 0x3A), shnum = BitConverter.ToUInt16(b, 0x3C), shstrndx = BitConverter.ToUInt16(b, 0x3E);
        for (int i = 0; i < phnum; i++)
        {
            int p = (int)phoff + i * phentsize;
            e.Segments.Add(new Segment(BitConverter.ToUInt32(b, p), BitConverter.ToUInt64(b, p + 8), BitConverter.ToUInt64(b, p + 16),
                BitConverter.ToUInt64(b, p + 24), BitConverter.ToUInt64(b, p + 32)));
        }
        int Sh(int i) => (int)shoff + i * shentsize;
        ulong strOff = BitConverter.ToUInt64(b, Sh(shstrndx) + 24);
        for (int i = 0; i < shnum; i++)
        {
            int h = Sh(i);
            e.Sections.Add(new Section(i, CString(b, (int)strOff + (int)BitConverter.ToUInt32(b, h)), BitConverter.ToUInt32(b, h + 4),
                BitConverter.ToUInt64(b, h + 8), BitConverter.ToUInt64(b, h + 16), BitConverter.ToUInt64(b, h + 24),
                BitConverter.ToUInt64(b, h + 32), BitConverter.ToUInt32(b, h + 40), BitConverter.ToUInt32(b, h + 44)));
        }
        Section symtab = e.Sections.FirstOrDefault(s => s.Type == SymTab);
        if (symtab == null) return e;
        ulong names = e.Sections[(int)symtab.Link].Offset;
        for (ulong s = symtab.Offset; s < symtab.Offset + symtab.Size; s += 24)
        {
            var sym = new Symbol(CString(b, (int)(names + BitConverter.ToUInt32(b, (int)s))), BitConverter.ToUInt64(b, (int)s + 8),
                BitConverter.ToUInt64(b, (int)s + 16), (byte)(b[(int)s + 4] >> 4), (byte)(b[(int)s + 4] & 0xF), BitConverter.ToUInt16(b, (int)s + 6));
            e.SymbolList.Add(sym);
            if (sym.Name.Length > 0) e.Symbols[sym.Name] = sym;
        }
        return e;
    }
}
