// A relocatable object read for patching (the offsets of its headers, symbols and
// relocations), as the validation, fuzz and malformed-module tests need; Support/ElfFile.cs
// reads the build's outputs. BCL only and independent of the kernel's reader, so that the
// QEMU tests can link it too (tests/Percy.Qemu.Tests builds the malformed-module corpus).
#nullable disable
using System;
using System.Collections.Generic;
using System.IO;
using System.Text;

namespace Percy.Tests.Support
{
    public sealed class PatchableElf
    {
        public sealed record Section(int Index, string Name, uint Type, ulong Flags, ulong Addr, ulong Offset, ulong Size,
                                     uint Link, uint Info, ulong Align, ulong EntSize);
        public sealed record Symbol(int Index, string Name, byte Info, ushort Shndx, ulong Value, ulong Size)
        {
            public int Bind => Info >> 4;
            public int Type => Info & 0xF;
        }
        public sealed record Rela(int Section, int Index, ulong Offset, uint Type, uint Sym, long Addend);

        public byte[] Bytes;
        public ulong ShOff;
        public List<Section> Sections = new();
        public List<Symbol> Symbols = new();
        public List<Rela> Relocations = new();
        public int SymtabIndex = -1;

        public static PatchableElf Load(string path) => Parse(File.ReadAllBytes(path));

        public static PatchableElf Parse(byte[] b)
        {
            var e = new PatchableElf { Bytes = b, ShOff = BitConverter.ToUInt64(b, 0x28) };
            int shnum = BitConverter.ToUInt16(b, 0x3C), shstrndx = BitConverter.ToUInt16(b, 0x3E);
            ulong namesOff = BitConverter.ToUInt64(b, (int)e.ShOff + shstrndx * 64 + 24);
            for (int i = 0; i < shnum; i++)
            {
                int h = (int)e.ShOff + i * 64;
                e.Sections.Add(new Section(i, CString(b, (int)namesOff + (int)BitConverter.ToUInt32(b, h)),
                    BitConverter.ToUInt32(b, h + 4), BitConverter.ToUInt64(b, h + 8), BitConverter.ToUInt64(b, h + 16),
                    BitConverter.ToUInt64(b, h + 24), BitConverter.ToUInt64(b, h + 32), BitConverter.ToUInt32(b, h + 40),
                    BitConverter.ToUInt32(b, h + 44), BitConverter.ToUInt64(b, h + 48), BitConverter.ToUInt64(b, h + 56)));
                if (e.Sections[i].Type == 2) e.SymtabIndex = i;
            }
            if (e.SymtabIndex >= 0)
            {
                var st = e.Sections[e.SymtabIndex];
                ulong strOff = e.Sections[(int)st.Link].Offset;
                for (int i = 0; i < (int)(st.Size / 24); i++)
                {
                    int p = (int)st.Offset + i * 24;
                    e.Symbols.Add(new Symbol(i, CString(b, (int)strOff + (int)BitConverter.ToUInt32(b, p)), b[p + 4],
                        BitConverter.ToUInt16(b, p + 6), BitConverter.ToUInt64(b, p + 8), BitConverter.ToUInt64(b, p + 16)));
                }
            }
            foreach (var s in e.Sections)
            {
                if (s.Type != 4) continue;
                for (int j = 0; j < (int)(s.Size / 24); j++)
                {
                    int p = (int)s.Offset + j * 24;
                    ulong info = BitConverter.ToUInt64(b, p + 8);
                    e.Relocations.Add(new Rela(s.Index, j, BitConverter.ToUInt64(b, p), (uint)info, (uint)(info >> 32),
                        BitConverter.ToInt64(b, p + 16)));
                }
            }
            return e;
        }

        static string CString(byte[] b, int at)
        {
            int end = at;
            while (end < b.Length && b[end] != 0) end++;
            return Encoding.ASCII.GetString(b, at, end - at);
        }

        public int SectionIndex(string name) => Sections.FindIndex(s => s.Name == name);
        public Section this[string name] => Sections[SectionIndex(name)];
        public int SymbolIndex(string name) => Symbols.FindIndex(s => s.Name == name);

        // File offsets of the structures, for patching.
        public int ShdrOffset(int section) => (int)ShOff + section * 64;
        public int SymOffset(int symbol) => (int)Sections[SymtabIndex].Offset + symbol * 24;
        public int RelaOffset(int section, int index) => (int)Sections[section].Offset + index * 24;

        public byte[] SectionBytes(int index)
        {
            var s = Sections[index];
            var r = new byte[s.Size];
            if (s.Type != 8) Array.Copy(Bytes, (long)s.Offset, r, 0, (long)s.Size);
            return r;
        }

        // A copy whose section `index` holds `contents` instead: the bytes are appended at
        // the end of the file (8-aligned) and the section header points there, so nothing
        // else moves and no two pieces of the file overlap. The new bytes end the file.
        public byte[] WithSectionContents(int index, byte[] contents)
        {
            const int Alignment = 8;
            int at = (Bytes.Length + Alignment - 1) & ~(Alignment - 1);
            var c = new byte[at + contents.Length];
            Bytes.CopyTo(c, 0);
            contents.CopyTo(c, at);
            c = Patch(c, ShdrOffset(index) + ShOffsetField, (ulong)at, 8);
            return Patch(c, ShdrOffset(index) + ShSizeField, (ulong)contents.Length, 8);
        }

        public byte[] WithSectionContents(string name, byte[] contents) => WithSectionContents(SectionIndex(name), contents);

        // Field offsets in an Elf64_Shdr.
        public const int ShOffsetField = 24, ShSizeField = 32;

        public static byte[] Patch(byte[] b, int offset, ulong value, int width)
        {
            var c = (byte[])b.Clone();
            for (int i = 0; i < width; i++) c[offset + i] = (byte)(value >> (8 * i));
            return c;
        }
    }
}
