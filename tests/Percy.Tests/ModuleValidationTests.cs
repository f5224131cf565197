using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// Every validation rule of the module loader, each broken in a real object (from gcc or
// NASM, patched where no compiler produces the fault), and the line that names it.
public unsafe class ModuleValidationTests
{
    // Field offsets (ELF64).
    const int EShoff = 0x28, EEhsize = 0x34, EShentsize = 0x3A, EShnum = 0x3C, EShstrndx = 0x3E;
    const int ShName = 0, ShType = 4, ShFlags = 8, ShOffset = 24, ShSize = 32, ShLink = 40, ShInfo = 44, ShAlign = 48, ShEntsize = 56;
    const int StName = 0, StInfo = 4, StShndx = 6, StValue = 8;
    const int ROffset = 0, RInfo = 8;

    static string KernelObject => ModuleSources.Gcc("kernel");
    static byte[] KernelBytes => File.ReadAllBytes(KernelObject);
    static PatchableElf KernelElf => PatchableElf.Load(KernelObject);

    // All stages, as the loader runs them: null or the error line (always exactly one line).
    static string Load(byte[] file, SymbolResolver resolver = null, ulong imageBase = ModuleSources.ImageBase)
    {
        resolver ??= ModuleSources.Resolver(ModuleSources.KernelSymbols());
        string error = ModuleHarness.Load(file, imageBase, ModuleSources.PerCpuOffset, resolver, out _);
        if (error != null) AssertOneLine(error);
        return error;
    }

    static void AssertOneLine(string error)
    {
        Assert.False(string.IsNullOrEmpty(error), "an empty error");
        Assert.True(error.All(c => c >= 0x20 && c < 0x7F), $"error with a control or non-ASCII character: {error}");
        Assert.True(error.Length <= ElfError.Capacity);
    }

    static void Fails(byte[] file, params string[] expected)
    {
        string error = Load(file);
        Assert.True(error != null, $"accepted; expected: {string.Join(" ... ", expected)}");
        foreach (string e in expected) Assert.Contains(e, error);
    }

    static byte[] Patch(byte[] b, int offset, ulong value, int width) => PatchableElf.Patch(b, offset, value, width);

    [Fact]
    public void RealObjectsLoad()
    {
        Assert.Null(Load(KernelBytes));
        foreach (string v in new[] { "kernel-g", "large", "pic", "pic-norelax" })
            Assert.Null(Load(File.ReadAllBytes(ModuleSources.Gcc(v))));
        Assert.Null(Load(File.ReadAllBytes(ModuleSources.NasmObject())));
    }

    // ---- Header ----

    [Fact]
    public void EveryTruncationFails()
    {
        byte[] b = KernelBytes;
        for (int n = 0; n < b.Length; n++)
        {
            string error = Load(b.AsSpan(0, n).ToArray());
            Assert.True(error != null, $"accepted the file truncated to {n} of {b.Length} bytes");
        }
        Assert.Equal("header: the file is 0 bytes, shorter than an ELF header (64)", Load(Array.Empty<byte>()));
        Assert.Equal("header: the file is 63 bytes, shorter than an ELF header (64)", Load(b.AsSpan(0, 63).ToArray()));
        Assert.Contains("header: the section header table (offset 0x", Load(b.AsSpan(0, 64).ToArray()));
        Assert.Contains("is past the end of the file (64 bytes)", Load(b.AsSpan(0, 64).ToArray()));
        // Cut inside the section header table (it is at the end of gcc's objects).
        var elf = KernelElf;
        Assert.Contains("the section header table", Load(b.AsSpan(0, elf.ShdrOffset(3) + 10).ToArray()));
    }

    [Fact]
    public void HeaderFields()
    {
        byte[] b = KernelBytes;
        Fails(Patch(b, 1, (byte)'X', 1), "header: not an ELF file (bad magic)");
        Fails(Patch(b, 4, 1, 1), "header: not a 64-bit ELF file (EI_CLASS 1)");
        Fails(Patch(b, 5, 2, 1), "header: not a little-endian ELF file (EI_DATA 2)");
        Fails(Patch(b, 6, 0, 1), "header: unknown ELF version 0 (EI_VERSION)");
        Fails(Patch(b, 16, 3, 2), "header: not a relocatable object (e_type 3; a module is ET_REL, 1)");
        Fails(Patch(b, 18, 3, 2), "header: not an x86-64 object (e_machine 3)");
        Fails(Patch(b, 20, 2, 4), "header: unknown ELF version 2 (e_version)");
        Fails(Patch(b, EEhsize, 52, 2), "header: e_ehsize is 52, not 64");
        Fails(Patch(b, EShoff, 0, 8), "header: no section header table (e_shoff 0)");
        Fails(Patch(b, EShnum, 0, 2), "header: extended section numbering (e_shnum 0) is not supported");
        Fails(Patch(b, EShnum, 0xFF00, 2), "header: e_shnum 65280 is in the reserved range");
        Fails(Patch(b, EShentsize, 40, 2), "header: e_shentsize is 40, not 64");
        Fails(Patch(b, EShoff, (ulong)b.Length - 64, 8), "header: the section header table", "is past the end of the file");
        Fails(Patch(b, EShoff, ulong.MaxValue - 100, 8), "header: the section header table", "is past the end of the file");
        Fails(Patch(b, EShstrndx, 0xFFFF, 2), "extended section-name table index (SHN_XINDEX) is not supported");
        Fails(Patch(b, EShstrndx, 0, 2), "header: no section-name string table (e_shstrndx 0)");
        Fails(Patch(b, EShstrndx, 200, 2), "header: e_shstrndx 200 is not a section");
        Fails(Patch(b, EShstrndx, (ulong)KernelElf.SymtabIndex, 2), "is of type 0x2, not SHT_STRTAB");
    }

    // A real executable and a real 32-bit object.
    [Fact]
    public void NotARelocatableX8664Object()
    {
        string dir = ModuleToolchain.Directory;
        string exe = Path.Combine(dir, "exe.elf");
        ModuleToolchain.Run("ld", $"-static -nostdlib -e 0 --no-warn-rwx-segments -Ttext=0x401000 -o {exe} {ModuleSources.NasmObject()} --defsym ext_func=0x1000 --defsym ext_counter=0x2000");
        Fails(File.ReadAllBytes(exe), "header: not a relocatable object (e_type 2");
        string src = Path.Combine(dir, "mod32.asm"), o32 = Path.Combine(dir, "mod32.o");
        File.WriteAllText(src, "bits 32\nsection .text\nf: ret\n");
        ModuleToolchain.Run("nasm", $"-f elf32 -o {o32} {src}");
        Fails(File.ReadAllBytes(o32), "header: not a 64-bit ELF file (EI_CLASS 1)");
    }

    // ---- Section headers ----

    [Fact]
    public void SectionHeaders()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int text = elf.SectionIndex(".text"), data = elf.SectionIndex(".data"), rela = elf.SectionIndex(".rela.text");
        int sh(int i) => elf.ShdrOffset(i);

        Fails(Patch(b, sh(0) + ShType, 1, 4), "section 0: type 0x1, not SHT_NULL");
        Fails(Patch(b, sh(text) + ShOffset, (ulong)b.Length, 8), $"section {text} (.text): offset 0x{b.Length:x} size 0x", "is past the end of the file");
        Fails(Patch(b, sh(text) + ShSize, ulong.MaxValue, 8), $"section {text} (.text): offset", "size 0xffffffffffffffff is past the end of the file");
        Fails(Patch(b, sh(text) + ShAlign, 3, 8), $"section {text} (.text): alignment 0x3 is not a power of two");
        Fails(Patch(b, sh(text) + ShName, 0x10000, 4), $"section {text}: name offset 0x10000 is outside the section-name string table");
        Fails(Patch(b, sh(rela) + ShType, 9, 4), $"section {rela} (.rela.text): SHT_REL relocations (without addends) are not supported");
        Fails(Patch(b, sh(data) + ShFlags, 0x7, 8), $"section {data} (.data): section is both writable and executable (W^X)");
        Fails(Patch(b, sh(text) + ShType, 6, 4), $"section {text} (.text): allocated section of unsupported type 0x6");
        Fails(Patch(b, sh(text) + ShFlags, 0x806, 8), "allocated section is compressed");
        Fails(Patch(b, sh(elf.SymtabIndex) + ShType, 1, 4), "no symbol table (SHT_SYMTAB)");
        int strtab = elf.SectionIndex(".strtab");
        Assert.True(strtab > elf.SymtabIndex);
        Fails(Patch(b, sh(strtab) + ShType, 2, 4), $"section {strtab} (.strtab): a second symbol table (the first is section {elf.SymtabIndex})");
        int shstrtab = elf.SectionIndex(".shstrtab");
        var names = elf.Sections[shstrtab];
        Fails(Patch(b, (int)(names.Offset + names.Size - 1), (byte)'x', 1), $"section {shstrtab}: the section-name string table does not end with a NUL byte");
        int pcpu = elf.SectionIndex(".data..percpu");
        Fails(Patch(b, sh(pcpu) + ShFlags, 0x1, 8), $"section {pcpu} (.data..percpu): the per-CPU section must be allocated data");
    }

    [Fact]
    public void OverlappingPiecesOfTheFile()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int text = elf.SectionIndex(".text"), data = elf.SectionIndex(".data");
        Fails(Patch(b, elf.ShdrOffset(data) + ShOffset, elf.Sections[text].Offset + 4, 8),
            $"section {text} (.text) and section {data} (.data) overlap in the file");
        Fails(Patch(b, elf.ShdrOffset(text) + ShOffset, 8, 8), $"the ELF header and section {text} (.text) overlap in the file");
        Fails(Patch(b, elf.ShdrOffset(data) + ShOffset, elf.ShOff + 64, 8), $"the section header table and section {data} (.data) overlap in the file");
        // NOBITS sections have no file bytes: .bss may "start" anywhere.
        int bss = elf.SectionIndex(".bss");
        Assert.Null(Load(Patch(b, elf.ShdrOffset(bss) + ShOffset, elf.Sections[text].Offset, 8)));
    }

    [Fact]
    public void LayoutLimits()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int data = elf.SectionIndex(".data"), bss = elf.SectionIndex(".bss"), pcpu = elf.SectionIndex(".data..percpu");
        Fails(Patch(b, elf.ShdrOffset(data) + ShAlign, 0x2000, 8), $"section {data} (.data): alignment 0x2000 is larger than a page");
        Fails(Patch(b, elf.ShdrOffset(pcpu) + ShAlign, 0x2000, 8), $"section {pcpu} (.data..percpu): alignment 0x2000 is larger than a page");
        Fails(Patch(b, elf.ShdrOffset(bss) + ShSize, 0x80000000, 8), $"section {bss} (.bss): size 0x80000000 makes the module image larger than 1 GiB");
        Fails(Patch(b, elf.ShdrOffset(bss) + ShSize, ulong.MaxValue, 8), $"section {bss} (.bss): size 0xffffffffffffffff");
    }

    // ---- Symbols ----

    [Fact]
    public void SymbolTable()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int symtab = elf.SymtabIndex, sh = elf.ShdrOffset(symtab);
        var st = elf.Sections[symtab];
        Fails(Patch(b, sh + ShEntsize, 16, 8), $"section {symtab} (.symtab): entry size 16, not 24");
        Fails(Patch(b, sh + ShSize, st.Size - 1, 8), "is not a non-zero multiple of 24");
        Fails(Patch(b, sh + ShLink, 500, 4), $"section {symtab} (.symtab): string table link 500 is not a section");
        Fails(Patch(b, sh + ShLink, (ulong)elf.SectionIndex(".text"), 4), "the symbol string table is of type 0x1, not SHT_STRTAB");
        Fails(Patch(b, sh + ShInfo, 1000, 4), "first global symbol 1000 is past the end");
        var strtab = elf.Sections[(int)st.Link];
        Fails(Patch(b, (int)(strtab.Offset + strtab.Size - 1), (byte)'x', 1), "the symbol string table does not end with a NUL byte");

        int g = elf.SymbolIndex("global_data"), local = elf.SymbolIndex("local_data"), ext = elf.SymbolIndex("ext_func");
        int dataIndex = elf.SectionIndex(".data");
        Fails(Patch(b, elf.SymOffset(g) + StName, 0x100000, 4), $"symbol {g}: name offset 0x100000 is outside the string table");
        Fails(Patch(b, elf.SymOffset(g) + StShndx, 99, 2), $"symbol {g} (global_data): section index 99 is not a section (there are {elf.Sections.Count})");
        Fails(Patch(b, elf.SymOffset(g) + StShndx, 0xFFFF, 2), $"symbol {g} (global_data): extended section index (SHN_XINDEX) is not supported");
        Fails(Patch(b, elf.SymOffset(g) + StShndx, 0xFF10, 2), $"symbol {g} (global_data): reserved section index 0xff10");
        Fails(Patch(b, elf.SymOffset(g) + StValue, 0x1000, 8), $"symbol {g} (global_data): value 0x1000 size 0x10 is outside section {dataIndex} (.data) (0x");
        Fails(Patch(b, elf.SymOffset(g) + StValue, ulong.MaxValue - 4, 8), $"symbol {g} (global_data): value 0xfffffffffffffffb size 0x10 is outside");
        Fails(Patch(b, elf.SymOffset(local) + StShndx, 0, 2), $"symbol {local} (local_data): undefined local symbol");
        Fails(Patch(b, elf.SymOffset(g) + StInfo, 0x51, 1), $"symbol {g} (global_data): unsupported binding 5");
        Fails(Patch(b, elf.SymOffset(ext) + StName, 0, 4), $"symbol {ext}: undefined symbol without a name");
    }

    [Fact]
    public void CommonAndIfuncSymbolsFromGcc()
    {
        string common = ModuleToolchain.Gcc("common", "int common_thing; int get(void) { return common_thing; }",
            "-O2 -mcmodel=kernel -fno-pic -fcommon");
        Assert.Contains(PatchableElf.Load(common).Symbols, s => s.Name == "common_thing" && s.Shndx == 0xFFF2);
        Fails(File.ReadAllBytes(common), "(common_thing): common symbol; build modules with -fno-common");

        string ifunc = ModuleToolchain.Gcc("ifunc", "static int impl(void) { return 1; }\nstatic void *pick(void) { return impl; }\nint get(void) __attribute__((ifunc(\"pick\")));",
            "-O2 -mcmodel=kernel -fno-pic");
        Fails(File.ReadAllBytes(ifunc), "(get): ifunc symbols are not supported");
    }

    // ---- Relocation sections ----

    [Fact]
    public void RelocationSections()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int rela = elf.SectionIndex(".rela.text"), text = elf.SectionIndex(".text"), sh = elf.ShdrOffset(rela);
        var r = elf.Sections[rela];
        Fails(Patch(b, sh + ShLink, (ulong)text, 4), $"section {rela} (.rela.text): linked to section {text}, not to the symbol table (section {elf.SymtabIndex})");
        Fails(Patch(b, sh + ShEntsize, 16, 8), $"section {rela} (.rela.text): entry size 16, not 24");
        Fails(Patch(b, sh + ShSize, r.Size - 8, 8), $"section {rela} (.rela.text): size 0x{r.Size - 8:x} is not a multiple of 24");
        Fails(Patch(b, sh + ShInfo, 0, 4), $"section {rela} (.rela.text): target section 0 is not a section it can relocate");
        Fails(Patch(b, sh + ShInfo, (ulong)rela, 4), $"target section {rela} is not a section it can relocate");
        Fails(Patch(b, sh + ShInfo, 300, 4), "target section 300 is not a section it can relocate");
        Fails(Patch(b, sh + ShInfo, (ulong)elf.SymtabIndex, 4), $"target section {elf.SymtabIndex} (.symtab) of type 0x2 cannot be relocated");

        int e0 = elf.RelaOffset(rela, 0);
        var rel0 = elf.Relocations.First(x => x.Section == rela && x.Index == 0);
        Fails(Patch(b, e0 + RInfo, ((ulong)rel0.Sym << 32) | 3, 8), $"section {rela} (.rela.text): relocation 0: unsupported relocation type 3");
        Fails(Patch(b, e0 + RInfo, (0xFFFFul << 32) | rel0.Type, 8), $"section {rela} (.rela.text): relocation 0: symbol index 65535 is past the end of the symbol table");
        ulong size = elf.Sections[text].Size;
        // The brief's own example shape: offset, then the target section by number and name.
        Assert.Equal($"section {rela} (.rela.text): relocation 0: offset 0x{size - 2:x} is past the end of section {text} (.text)",
            Load(Patch(b, e0 + ROffset, size - 2, 8)));
        Fails(Patch(b, e0 + ROffset, ulong.MaxValue - 1, 8), "relocation 0: offset 0xfffffffffffffffe is past the end of section");

        // Per-CPU data: absolute relocations only.
        int pr = elf.SectionIndex(".rela.data..percpu");
        var p0 = elf.Relocations.First(x => x.Section == pr);
        Assert.Equal(Elf.R_X86_64_64, p0.Type);
        Fails(Patch(b, elf.RelaOffset(pr, 0) + RInfo, ((ulong)p0.Sym << 32) | Elf.R_X86_64_PC32, 8),
            $"section {pr} (.rela.data..percpu): relocation 0 (R_X86_64_PC32): only absolute relocations can be applied in the per-CPU section");
    }

    // gcc's thread-local variable: TLS relocation types are refused by name and number.
    [Fact]
    public void ThreadLocalReferencesAreRefused()
    {
        string obj = ModuleToolchain.Gcc("tls", "__thread int tv; int get(void) { return tv; }", "-O2 -mcmodel=kernel -fno-pic");
        var elf = PatchableElf.Load(obj);
        var r = elf.Relocations.Single(x => elf.Sections[x.Section].Name == ".rela.text");
        Assert.Equal(23u, r.Type);                                       // R_X86_64_TPOFF32
        Fails(File.ReadAllBytes(obj), "relocation 0: unsupported relocation type 23");
        // Even through a type the relocator knows, a thread-local symbol cannot be referenced.
        byte[] b = Patch(File.ReadAllBytes(obj), elf.RelaOffset(r.Section, 0) + RInfo, ((ulong)r.Sym << 32) | Elf.R_X86_64_32S, 8);
        Fails(b, "relocation 0 (R_X86_64_32S): tv is thread-local; modules have no thread-local storage");
    }

    // Relocations of sections that are not loaded are never read; a loaded section may not
    // reference a symbol of one.
    [Fact]
    public void DebugRelocationsAreSkippedButNotReferenced()
    {
        string obj = ModuleSources.Gcc("kernel-g");
        byte[] b = File.ReadAllBytes(obj);
        var elf = PatchableElf.Load(obj);
        int debugRela = elf.SectionIndex(".rela.debug_info");
        Assert.True(debugRela > 0);
        byte[] junk = Patch(b, elf.RelaOffset(debugRela, 0) + RInfo, (0xFFFFFFul << 32) | 0xFF, 8);
        junk = Patch(junk, elf.RelaOffset(debugRela, 1) + ROffset, ulong.MaxValue, 8);
        Assert.Null(Load(junk));

        int textRela = elf.SectionIndex(".rela.text");
        int debugInfo = elf.SectionIndex(".debug_info");
        int debugSym = elf.Symbols.FindIndex(s => s.Type == 3 && s.Shndx == debugInfo);
        if (debugSym < 0) debugSym = elf.Symbols.FindIndex(s => s.Type == 3 && elf.Sections[s.Shndx < elf.Sections.Count ? s.Shndx : 0].Name.StartsWith(".debug"));
        Assert.True(debugSym > 0, "no section symbol of a debug section");
        var r0 = elf.Relocations.First(x => x.Section == textRela && x.Index == 0);
        string section = elf.Sections[elf.Symbols[debugSym].Shndx].Name;
        Fails(Patch(b, elf.RelaOffset(textRela, 0) + RInfo, ((ulong)debugSym << 32) | r0.Type, 8),
            $"section {textRela} (.rela.text): relocation 0 ({ElfRelocatable.RelocationTypeName(r0.Type)}): refers to section {elf.Symbols[debugSym].Shndx} ({section}), which is not loaded");
    }

    // ---- Resolution and overflow ----

    [Fact]
    public void UnknownSymbols()
    {
        var symbols = ModuleSources.KernelSymbols();
        symbols.Remove("ext_func");
        Assert.Equal("unknown symbol ext_func", Load(KernelBytes, ModuleSources.Resolver(symbols)));
        string all = Load(KernelBytes, new DictionaryResolver());
        Assert.StartsWith("unknown symbol ext_", all);
        Assert.EndsWith("(and 2 more)", all);                    // weak_thing is not unknown: it is 0
        Assert.StartsWith("unknown symbol ext_", ModuleHarness.Load(KernelBytes, ModuleSources.ImageBase, 0, null, out _));
    }

    [Fact]
    public void Overflows()
    {
        // A call to a kernel function more than 2 GiB away.
        var far = ModuleSources.KernelSymbols();
        far["ext_func"] = 0xFFFF800000001000;
        string e = Load(KernelBytes, ModuleSources.Resolver(far));
        Assert.Contains("(R_X86_64_PLT32) against ext_func: value 0x", e);
        Assert.Contains("does not fit in 32 bits (sign-extended; the module must be within 2 GiB of its target)", e);

        // Absolute 32S references (-mcmodel=kernel) from an image outside the top 2 GiB.
        var near = ModuleSources.KernelSymbols().ToDictionary(kv => kv.Key, kv => kv.Value - ModuleSources.KernelBase + 0xFFFF800001000000ul);
        e = Load(KernelBytes, ModuleSources.Resolver(near), 0xFFFF800000000000);
        Assert.Contains("(R_X86_64_32S) against", e);
        Assert.Contains("does not fit in 32 bits (sign-extended)", e);

        // R_X86_64_32 (zero-extended) against a kernel-half address.
        string obj = ModuleToolchain.Nasm("abs32", "bits 64\nextern ext_func\nsection .text\nmov ecx, ext_func\nret\n");
        e = Load(File.ReadAllBytes(obj), new DictionaryResolver().Add("ext_func", ModuleSources.KernelBase));
        Assert.Equal($"section {PatchableElf.Load(obj).SectionIndex(".rela.text")} (.rela.text): relocation 0 (R_X86_64_32) against ext_func: value 0x{ModuleSources.KernelBase:x} does not fit in 32 bits (zero-extended)", e);
    }

    // The boundaries of the 32-bit checks, for symbol values near them: the field is written
    // exactly when the CPU's extension of it gives back S + A, and refused otherwise.
    [Property(MaxTest = 300)]
    public Property ThirtyTwoBitChecksAreExact()
    {
        string obj = ModuleToolchain.Nasm("edges", "bits 64\nextern s32, s32s, spc\nsection .text\nmov ecx, s32 + 1\nmov eax, [s32s - 1]\ncall spc\n");
        byte[] file = File.ReadAllBytes(obj);
        var edges = Gen.Elements(0x0ul, 0xFFFFFFFFul, 0x100000000ul, 0x7FFFFFFFul, 0x80000000ul, 0xFFFFFFFF80000000ul, 0xFFFFFFFF7FFFFFFFul, ulong.MaxValue,
                                 unchecked(ModuleSources.ImageBase + 17 + 0x7FFFFFFFul), ModuleSources.ImageBase + 17 - 0x80000000ul);
        var values = Gen.OneOf(edges, edges.SelectMany(e => Gen.Choose(-3, 3).Select(d => unchecked(e + (ulong)(long)d))), ArbMap.Default.GeneratorFor<ulong>());
        return Prop.ForAll(Arb.From(Gen.Elements(0, 1, 2)), Arb.From(values), (which, value) =>
        {
            var resolver = new DictionaryResolver().Add("s32", 0).Add("s32s", 2).Add("spc", ModuleSources.ImageBase);
            string name = which == 0 ? "s32" : which == 1 ? "s32s" : "spc";
            resolver.Add(name, value);
            string error = ModuleHarness.Load(file, ModuleSources.ImageBase, 0, resolver, out var h);
            // mov ecx, imm32 at 1; mov eax, [disp32] (SIB form) at 5+3; call rel32 at 12+1.
            ulong expected; bool fits; int at;
            if (which == 0) { expected = value + 1; fits = expected <= 0xFFFFFFFF; at = 1; }
            else if (which == 1) { expected = value - 1; fits = (ulong)(long)(int)expected == expected; at = 8; }
            else { expected = value - 4 - (ModuleSources.ImageBase + 13); fits = (ulong)(long)(int)expected == expected; at = 13; }
            if (!fits) return error != null && error.Contains("does not fit in 32 bits") && error.Contains(name);
            return error == null && BitConverter.ToUInt32(h.Image, at) == (uint)expected;
        });
    }

    [Fact]
    public void NamesFromTheFileCannotBreakTheLine()
    {
        byte[] b = KernelBytes;
        var elf = KernelElf;
        int text = elf.SectionIndex(".text");
        var names = elf.Sections[elf.SectionIndex(".shstrtab")];
        int at = (int)(names.Offset + BitConverter.ToUInt32(b, elf.ShdrOffset(text) + ShName));
        b = Patch(b, at + 1, (byte)'\n', 1);                     // ".text" -> ".\next"
        b = Patch(b, elf.ShdrOffset(text) + ShAlign, 3, 8);
        Assert.Equal($"section {text} (.?ext): alignment 0x3 is not a power of two", Load(b));

        // A name longer than a line: cut, and marked.
        string longName = new string('n', 600);
        string obj = ModuleToolchain.Gcc("longname", $"extern int {longName}; int get(void) {{ return {longName}; }}", "-O2 -mcmodel=kernel -fno-pic");
        string e = Load(File.ReadAllBytes(obj), new DictionaryResolver());
        Assert.Equal("unknown symbol " + new string('n', 96) + "...", e);
    }

    [Fact]
    public void MissingWritableViewsAreRefused()
    {
        ModuleHarness.ParseAndLayOut(KernelBytes, out var h);
        var regions = h.Layout.Contiguous(ModuleSources.ImageBase, null);
        Assert.False(Relocator.Relocate(h.Layout, regions, ModuleSources.Resolver(ModuleSources.KernelSymbols()), out _, out var e));
        Assert.Equal("relocate: no writable view of a region of the image", ModuleHarness.Text(e));
    }
}
