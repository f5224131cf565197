using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Percy.Kernel;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// Runs the panic symboliser on the kernel the build produced, the way the kernel sees
// it: section headers whose .symtab/.strtab addresses point at loaded copies.
public unsafe class ElfSymbolTableTests
{
    static string KernelElf() => BuiltModules.KernelElf();

    // Loads the file into unmanaged memory and rewrites each section's address to
    // where its bytes are (what the boot loader does for non-allocated sections).
    static (byte[] Headers, IntPtr File, uint Count) Load(string path)
    {
        byte[] image = File.ReadAllBytes(path);
        IntPtr file = Marshal.AllocHGlobal(image.Length);
        Marshal.Copy(image, 0, file, image.Length);
        ulong shoff = BitConverter.ToUInt64(image, 0x28);
        ushort shentsize = BitConverter.ToUInt16(image, 0x3A), shnum = BitConverter.ToUInt16(image, 0x3C);
        byte[] headers = new byte[shnum * shentsize];
        Array.Copy(image, (long)shoff, headers, 0, headers.Length);
        for (int i = 0; i < shnum; i++)
        {
            ulong offset = BitConverter.ToUInt64(headers, i * shentsize + 24);
            BitConverter.GetBytes((ulong)file + offset).CopyTo(headers, i * shentsize + 16);
        }
        return (headers, file, shnum);
    }

    static Dictionary<string, (ulong Value, ulong Size)> Functions(string path)
    {
        // An independent reading of .symtab, to check the kernel's reader against.
        byte[] image = File.ReadAllBytes(path);
        ulong shoff = BitConverter.ToUInt64(image, 0x28);
        int entsize = BitConverter.ToUInt16(image, 0x3A), count = BitConverter.ToUInt16(image, 0x3C);
        var result = new Dictionary<string, (ulong, ulong)>();
        for (int i = 0; i < count; i++)
        {
            int h = (int)shoff + i * entsize;
            if (BitConverter.ToUInt32(image, h + 4) != 2) continue;
            ulong off = BitConverter.ToUInt64(image, h + 24), size = BitConverter.ToUInt64(image, h + 32);
            int link = (int)BitConverter.ToUInt32(image, h + 40);
            ulong stroff = BitConverter.ToUInt64(image, (int)shoff + link * entsize + 24);
            for (ulong s = off; s < off + size; s += 24)
            {
                if ((image[s + 4] & 0xF) != 2) continue;
                int nameStart = (int)(stroff + BitConverter.ToUInt32(image, (int)s));
                int nameEnd = Array.IndexOf(image, (byte)0, nameStart);
                string name = System.Text.Encoding.ASCII.GetString(image, nameStart, nameEnd - nameStart);
                result[name] = (BitConverter.ToUInt64(image, (int)s + 8), BitConverter.ToUInt64(image, (int)s + 16));
            }
        }
        return result;
    }

    static string Name(byte* p, int n) => System.Text.Encoding.ASCII.GetString(p, n);

    [Fact]
    public void ResolvesKernelFunctionsInTheRealImage()
    {
        string path = KernelElf();
        var (headers, file, count) = Load(path);
        var functions = Functions(path);
        Assert.Contains("KernelMain", functions.Keys);
        Assert.Contains("InterruptDispatch", functions.Keys);
        fixed (byte* h = headers)
        {
            Assert.True(ElfSymbolTable.TryCreate(h, count, 64, 0, out var table, out string error), error);
            foreach (string fn in new[] { "KernelMain", "InterruptDispatch", "RhpNewFast" })
            {
                var (value, size) = functions[fn];
                Assert.True(table.TryLookup(value + size / 2, out byte* name, out int length, out ulong offset));
                // Exported functions carry two names (the export and ILC's mangled one): either will do.
                string found = Name(name, length);
                Assert.Equal(value, functions[found].Value);
                Assert.Equal(size / 2, offset);
            }
        }
        Marshal.FreeHGlobal(file);
    }

    // TryFind (the loader's source of kernel export values) against ElfFile's reading of
    // the same file: the first defined symbol of each name, any type.
    [Fact]
    public void FindsEveryKernelExportAndOtherSymbolsByName()
    {
        const int Sample = 500;                         // other names checked, spread over the table
        string path = KernelElf();
        var independent = ElfFile.Read(path).SymbolList;
        var firstDefined = new Dictionary<string, ulong>();
        foreach (var sym in independent)
            if (sym.SectionIndex != ElfFile.Undefined && sym.Name.Length > 0) firstDefined.TryAdd(sym.Name, sym.Value);

        var names = Enumerable.Range(0, KernelExportTable.Count).Select(i => KernelExportTable.At(i).Name).ToList();
        var others = firstDefined.Keys.ToList();
        for (int i = 0; i < Sample; i++) names.Add(others[(int)((long)i * others.Count / Sample)]);

        var (headers, file, count) = Load(path);
        try
        {
            fixed (byte* h = headers)
            {
                Assert.True(ElfSymbolTable.TryCreate(h, count, 64, 0, out var table, out string error), error);
                foreach (string name in names)
                {
                    Assert.True(firstDefined.ContainsKey(name), $"{name} is not defined in {path}");
                    Assert.True(table.TryFind(name, out ulong value), name);
                    Assert.True(firstDefined[name] == value, $"{name}: 0x{value:x}, expected 0x{firstDefined[name]:x}");
                }
                // Whole names only: not a prefix, not a longer name, not a name that is not there.
                foreach (string absent in new[] { "percy_lo", "percy_logx", "percy_no_such_export", "KernelMai", "KernelMainX" })
                {
                    Assert.False(firstDefined.ContainsKey(absent), $"{absent} is in the kernel after all");
                    Assert.False(table.TryFind(absent, out ulong value), absent);
                    Assert.Equal(0ul, value);
                }
            }
        }
        finally
        {
            Marshal.FreeHGlobal(file);
        }
    }

    [Fact]
    public void AddressBelowEveryFunctionIsNotResolved()
    {
        var (headers, file, count) = Load(KernelElf());
        fixed (byte* h = headers)
        {
            Assert.True(ElfSymbolTable.TryCreate(h, count, 64, 0, out var table, out _));
            Assert.False(table.TryLookup(0x1000, out _, out _, out _));
        }
        Marshal.FreeHGlobal(file);
    }

    [Fact]
    public void RejectsMissingOrBrokenTables()
    {
        byte* none = null;
        Assert.False(ElfSymbolTable.TryCreate(none, 5, 64, 0, out _, out string e1));
        Assert.NotNull(e1);
        var headers = new byte[64 * 3];
        fixed (byte* h = headers)
        {
            Assert.False(ElfSymbolTable.TryCreate(h, 3, 64, 0, out _, out string e2));
            Assert.Equal("no symbol table", e2);
            headers[64 + 4] = 2;                           // SHT_SYMTAB with entry size 0
            Assert.False(ElfSymbolTable.TryCreate(h, 3, 64, 0, out _, out string e3));
            Assert.Equal("symbol table has a bad link or entry size", e3);
            Assert.False(ElfSymbolTable.TryCreate(h, 3, 32, 0, out _, out _));
        }
    }
}
