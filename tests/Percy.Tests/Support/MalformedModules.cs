// The malformed-module corpus (issue 7, "Bad input"): modules derived from real ones the
// build produced (hello.kmod and counter.kmod from ILC, cmod.kmod from gcc), each broken in
// one way, with the words the loader's one-line reason must contain. The host tests
// (ModuleCorpusTests) run every case through the loader's pure stages; the QEMU test
// (ModuleCorpusQemuTests) packs them into the ISO and insmods each one.
//
// Every case is named for insmod (`bad_<base>_<what>`: a-z, 0-9, _; the file is NAME.kmod)
// and, unless the case is about the name itself, its .modinfo says name=NAME, so that a case
// the loader wrongly accepted could not be mistaken for another module.
// BCL only: linked into both test projects.
#nullable disable
using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;

namespace Percy.Tests.Support
{
    // Where the loader must notice the problem: ElfRelocatable.TryParse, ModuleImageLayout,
    // the Relocator, or the loader's own checks (name, entry points, exports), which run on
    // files the pure stages accept.
    public enum CorpusStage { Parse, Layout, Relocate, Loader }

    // Reason: the words the loader's reason must contain; a '…' stands for text the corpus
    // cannot know (a run-time address), the pieces must appear in this order.
    // Requires: a module that must be loaded first (for the duplicate-name and export cases).
    public sealed record MalformedModule(string Name, byte[] Bytes, string Reason, CorpusStage Stage, string Requires = null)
    {
        public const string Suffix = ".kmod";
        public const char Gap = '…';
        public string FileName => Name + Suffix;

        public bool Explains(string reason)
        {
            int at = 0;
            foreach (string piece in Reason.Split(Gap))
            {
                int found = reason.IndexOf(piece, at, StringComparison.Ordinal);
                if (found < 0) return false;
                at = found + piece.Length;
            }
            return true;
        }

        public override string ToString() => $"{Name} ({Stage}: {Reason})";
    }

    public static class MalformedModules
    {
        // ELF64 field offsets (gABI): header, section header, symbol, RELA entry.
        const int EIClass = 4, EIData = 5, EType = 16, EMachine = 18, EVersion = 20, EShoff = 0x28,
                  EShentsize = 0x3A, EShnum = 0x3C, EShstrndx = 0x3E, EhdrSize = 64, EINident = 16;
        const int ShName = 0, ShType = 4, ShFlags = 8, ShOffset = 24, ShSize = 32, ShLink = 40, ShInfo = 44, ShAlign = 48, ShEntsize = 56;
        const int ShdrSize = 64;
        const int StName = 0, StShndx = 6, StValue = 8, StSize = 16;
        const int ROffset = 0, RInfo = 8, RAddend = 16;

        const uint ShtProgbits = 1, ShtSymtab = 2, ShtStrtab = 3, ShtDynamic = 6, ShtNobits = 8, ShtRel = 9;
        const ulong ShfExec = 0x4;
        const ushort ShnCommon = 0xFFF2;
        const byte SttSection = 3;
        const uint R64 = 1, RPc32 = 2, RPlt32 = 4, R32 = 10, R32S = 11;
        const ushort EtExec = 2, EtDyn = 3, EmI386 = 3, EmAarch64 = 183;

        const ulong FourGiB = 1ul << 32;
        const ulong PastAnyPage = 1ul << 20;            // an alignment larger than a page
        const ulong HugeSize = 1ul << 62;
        const uint HugeNameOffset = 0xFFFFFF;
        const uint UnknownRelocationType = 200;         // not an x86-64 psABI type
        const int ModuleNameCapacity = 56;              // Linux's MODULE_NAME_LEN; kernel/modules/Module.cs

        public const string Init = "percy_module_init", Exit = "percy_module_exit";

        // hello, cmod, counter: the .kmod bytes of the real modules.
        public static List<MalformedModule> Build(byte[] hello, byte[] cmod, byte[] counter)
        {
            var cases = new List<MalformedModule>();
            cases.AddRange(Structural("h", hello));
            cases.AddRange(Structural("c", cmod));
            cases.AddRange(Metadata(hello, counter));
            var duplicate = cases.GroupBy(c => c.Name).FirstOrDefault(g => g.Count() > 1);
            if (duplicate != null) throw new InvalidOperationException($"two corpus cases are named {duplicate.Key}");
            foreach (var c in cases)
                if (c.Name.Length > ModuleNameCapacity || c.Name.Any(ch => !(ch >= 'a' && ch <= 'z' || ch >= '0' && ch <= '9' || ch == '_')))
                    throw new InvalidOperationException($"{c.Name} is not a name insmod accepts");
            return cases;
        }

        // `name=NAME` as the only name in .modinfo (the old strings stay in the file, unreferenced).
        public static byte[] Named(byte[] module, string name) =>
            PatchableElf.Parse(module).WithSectionContents(".modinfo", Encoding.ASCII.GetBytes($"name={name}\0license=MIT\0"));

        static byte[] Patch(byte[] b, int offset, ulong value, int width) => PatchableElf.Patch(b, offset, value, width);

        // The module, named NAME, with a per-CPU section of `size` zero bytes (made NOBITS, so
        // the file stays small): how large a per-CPU section the loader takes, and refuses.
        public static byte[] WithPerCpuSize(byte[] module, string name, ulong size)
        {
            var e = PatchableElf.Parse(Named(module, name));
            int section = e.SectionIndex(PerCpuSection);
            if (section < 0) throw new InvalidOperationException($"{name}: the module has no {PerCpuSection}");
            return Patch(Patch(e.Bytes, e.ShdrOffset(section) + ShType, ShtNobits, 4), e.ShdrOffset(section) + ShSize, size, 8);
        }

        public const string PerCpuSection = ".data..percpu";
        // A per-CPU section larger than any unit (the default unit is 1 MiB; percpu.unit_vm= changes it).
        public const ulong PerCpuLargerThanAnyUnit = 2ul << 20;

        // The cases every module can be broken with: truncations, header fields, section
        // headers, symbols, relocations, relocation values.
        static IEnumerable<MalformedModule> Structural(string prefix, byte[] original)
        {
            string N(string what) => $"bad_{prefix}_{what}";
            // Each case starts from the module renamed to the case's name (bytes appended at the end).
            PatchableElf E(string name) => PatchableElf.Parse(Named(original, name));
            // The reason may quote the case's own file (its length, offsets): reason(e) sees it unbroken.
            MalformedModule Case(string what, Func<PatchableElf, byte[]> make, Func<PatchableElf, string> reason, CorpusStage stage = CorpusStage.Parse)
            {
                string name = N(what);
                PatchableElf e = E(name);
                return new MalformedModule(name, make(e), reason(e), stage);
            }
            MalformedModule Fixed(string what, Func<PatchableElf, byte[]> make, string reason, CorpusStage stage = CorpusStage.Parse)
                => Case(what, make, _ => reason, stage);
            int Sec(PatchableElf e, string section)
            {
                int i = e.SectionIndex(section);
                if (i < 0) throw new InvalidOperationException($"{prefix}: no section {section}");
                return i;
            }
            int Shdr(PatchableElf e, string section, int field) => e.ShdrOffset(Sec(e, section)) + field;
            string Label(PatchableElf e, string section) => $"section {Sec(e, section)} ({section})";

            // Truncated copies of the module as built, at every boundary: inside and at the end
            // of the ELF header, at the start of every section and of every section header, one
            // byte short of the end. (A truncated file never gets as far as its name.)
            var shape = PatchableElf.Parse(original);
            int length = original.Length;
            ulong tableEnd = shape.ShOff + (ulong)shape.Sections.Count * ShdrSize;
            var cuts = new SortedSet<int> { 0, 1, EINident, EhdrSize - 1, EhdrSize, length - 1 };
            foreach (var s in shape.Sections.Where(s => s.Type != ShtNobits && s.Offset > 0 && s.Offset < (ulong)length)) cuts.Add((int)s.Offset);
            for (int i = 0; i < shape.Sections.Count; i++) cuts.Add(shape.ShdrOffset(i));
            foreach (int cut in cuts)
            {
                string reason = cut < EhdrSize ? $"the file is {cut} bytes, shorter than an ELF header"
                    : (ulong)cut < tableEnd ? $"the section header table (offset 0x{shape.ShOff:x}, {shape.Sections.Count} entries) is past the end of the file ({cut} bytes)"
                    : $"is past the end of the file ({cut} bytes)";
                yield return new MalformedModule(N($"trunc_{cut}"), original[..cut], reason, CorpusStage.Parse);
            }

            // The header.
            yield return Fixed("magic", e => Patch(e.Bytes, 1, 'X', 1), "not an ELF file (bad magic)");
            yield return Fixed("class32", e => Patch(e.Bytes, EIClass, 1, 1), "not a 64-bit ELF file (EI_CLASS 1)");
            yield return Fixed("bigendian", e => Patch(e.Bytes, EIData, 2, 1), "not a little-endian ELF file (EI_DATA 2)");
            yield return Fixed("type_exec", e => Patch(e.Bytes, EType, EtExec, 2), $"not a relocatable object (e_type {EtExec}");
            yield return Fixed("type_dyn", e => Patch(e.Bytes, EType, EtDyn, 2), $"not a relocatable object (e_type {EtDyn}");
            yield return Fixed("machine_i386", e => Patch(e.Bytes, EMachine, EmI386, 2), $"not an x86-64 object (e_machine {EmI386})");
            yield return Fixed("machine_arm64", e => Patch(e.Bytes, EMachine, EmAarch64, 2), $"not an x86-64 object (e_machine {EmAarch64})");
            yield return Fixed("version", e => Patch(e.Bytes, EVersion, 2, 4), "unknown ELF version 2 (e_version)");
            yield return Fixed("shentsize", e => Patch(e.Bytes, EShentsize, 40, 2), "e_shentsize is 40, not 64");
            yield return Fixed("shnum_zero", e => Patch(e.Bytes, EShnum, 0, 2), "extended section numbering (e_shnum 0) is not supported");
            yield return Case("shstrndx", e => Patch(e.Bytes, EShstrndx, (ulong)e.Sections.Count, 2), e => $"e_shstrndx {e.Sections.Count} is not a section");
            yield return Case("shoff_past_end", e => Patch(e.Bytes, EShoff, (ulong)e.Bytes.Length, 8),
                e => $"the section header table (offset 0x{e.Bytes.Length:x}, {e.Sections.Count} entries) is past the end of the file ({e.Bytes.Length} bytes)");

            // Section headers: offsets and sizes, overlaps, names, string tables, types, flags.
            yield return Case("text_past_end", e => Patch(e.Bytes, Shdr(e, ".text", ShOffset), (ulong)e.Bytes.Length, 8),
                e => $"{Label(e, ".text")}: offset 0x{e.Bytes.Length:x} size 0x{e[".text"].Size:x} is past the end of the file ({e.Bytes.Length} bytes)");
            yield return Case("rodata_huge", e => Patch(e.Bytes, Shdr(e, ".rodata", ShSize), HugeSize, 8),
                e => $"{Label(e, ".rodata")}: offset 0x{e[".rodata"].Offset:x} size 0x{HugeSize:x} is past the end of the file");
            yield return Case("overlap", e => Patch(e.Bytes, Shdr(e, ".rodata", ShOffset), e[".text"].Offset, 8),
                e => $"{Label(e, ".text")} and {Label(e, ".rodata")} overlap in the file");
            yield return Case("overlap_header", e => Patch(e.Bytes, Shdr(e, ".text", ShOffset), 0, 8),
                e => $"the ELF header and {Label(e, ".text")} overlap in the file");
            yield return Case("overlap_shdrs", e => Patch(e.Bytes, Shdr(e, ".rodata", ShOffset), e.ShOff, 8),
                e => $"the section header table and {Label(e, ".rodata")} overlap in the file");
            yield return Case("section_name", e => Patch(e.Bytes, Shdr(e, ".text", ShName), HugeNameOffset, 4),
                e => $"section {Sec(e, ".text")}: name offset 0x{HugeNameOffset:x} is outside the section-name string table");
            yield return Fixed("shstrtab_nul", e => Patch(e.Bytes, (int)(e[".shstrtab"].Offset + e[".shstrtab"].Size - 1), 'x', 1),
                "the section-name string table does not end with a NUL byte");
            yield return Fixed("strtab_type", e => Patch(e.Bytes, Shdr(e, ".strtab", ShType), ShtProgbits, 4),
                $"the symbol string table is of type 0x{ShtProgbits:x}, not SHT_STRTAB");
            yield return Fixed("no_symtab", e => Patch(e.Bytes, Shdr(e, ".symtab", ShType), ShtProgbits, 4), "no symbol table (SHT_SYMTAB)");
            yield return Fixed("two_symtabs", e => Patch(e.Bytes, Shdr(e, ".note.GNU-stack", ShType), ShtSymtab, 4), "a second symbol table");
            yield return Fixed("symtab_link", e => Patch(e.Bytes, Shdr(e, ".symtab", ShLink), 0, 4), "string table link 0 is not a section");
            yield return Fixed("symtab_entsize", e => Patch(e.Bytes, Shdr(e, ".symtab", ShEntsize), 16, 8), "entry size 16, not 24");
            yield return Case("symtab_info", e => Patch(e.Bytes, Shdr(e, ".symtab", ShInfo), (ulong)e.Symbols.Count + 1, 4),
                e => $"first global symbol {e.Symbols.Count + 1} is past the end ({e.Symbols.Count} symbols)");
            yield return Case("align3", e => Patch(e.Bytes, Shdr(e, ".text", ShAlign), 3, 8), e => $"{Label(e, ".text")}: alignment 0x3 is not a power of two");
            yield return Case("wx", e => Patch(e.Bytes, Shdr(e, ".data", ShFlags), e[".data"].Flags | ShfExec, 8),
                e => $"{Label(e, ".data")}: section is both writable and executable (W^X)");
            yield return Case("alloc_type", e => Patch(e.Bytes, Shdr(e, ".rodata", ShType), ShtDynamic, 4),
                e => $"{Label(e, ".rodata")}: allocated section of unsupported type 0x{ShtDynamic:x}");
            yield return Fixed("rel", e => Patch(e.Bytes, Shdr(e, ".rela.text", ShType), ShtRel, 4), "SHT_REL relocations (without addends) are not supported");
            yield return Case("align_page", e => Patch(e.Bytes, Shdr(e, ".text", ShAlign), PastAnyPage, 8),
                e => $"{Label(e, ".text")}: alignment 0x{PastAnyPage:x} is larger than a page", CorpusStage.Layout);

            // Symbols: the entry point's own symbol, and a local one.
            int init = shape.SymbolIndex(Init);
            yield return Fixed("sym_name", e => Patch(e.Bytes, e.SymOffset(init) + StName, HugeNameOffset, 4),
                $"symbol {init}: name offset 0x{HugeNameOffset:x} is outside the string table");
            yield return Case("sym_section", e => Patch(e.Bytes, e.SymOffset(init) + StShndx, (ulong)e.Sections.Count + 3, 2),
                e => $"symbol {init} ({Init}): section index {e.Sections.Count + 3} is not a section (there are {e.Sections.Count})");
            yield return Case("sym_value", e => Patch(e.Bytes, e.SymOffset(init) + StValue, e[".text"].Size, 8),
                e => $"symbol {init} ({Init}): value 0x{e[".text"].Size:x} size 0x{e.Symbols[init].Size:x} is outside {Label(e, ".text")}");
            yield return Fixed("sym_common", e => Patch(e.Bytes, e.SymOffset(init) + StShndx, ShnCommon, 2),
                $"symbol {init} ({Init}): common symbol; build modules with -fno-common");
            int local = shape.Symbols.FindIndex(s => s.Index > 0 && s.Bind == 0 && s.Type == SttSection);
            yield return Fixed("sym_undef_local", e => Patch(e.Bytes, e.SymOffset(local) + StShndx, 0, 2), "undefined local symbol");

            // Relocation sections and entries (.rela.text, entry 0).
            int rela = Sec(shape, ".rela.text");
            int first = shape.RelaOffset(rela, 0);
            yield return Case("rela_sym", e => Patch(e.Bytes, first + RInfo + 4, (ulong)e.Symbols.Count + 100, 4),
                e => $"relocation 0: symbol index {e.Symbols.Count + 100} is past the end of the symbol table ({e.Symbols.Count} symbols)");
            yield return Fixed("rela_type", e => Patch(e.Bytes, first + RInfo, UnknownRelocationType, 4),
                $"relocation 0: unsupported relocation type {UnknownRelocationType}");
            yield return Case("rela_offset", e => Patch(e.Bytes, first + ROffset, e[".text"].Size, 8),
                e => $"relocation 0: offset 0x{e[".text"].Size:x} is past the end of {Label(e, ".text")}");
            yield return Case("rela_entsize", e => Patch(e.Bytes, Shdr(e, ".rela.text", ShEntsize), 16, 8), e => $"{Label(e, ".rela.text")}: entry size 16, not 24");
            yield return Case("rela_link", e => Patch(e.Bytes, Shdr(e, ".rela.text", ShLink), 0, 4),
                e => $"{Label(e, ".rela.text")}: linked to section 0, not to the symbol table");
            yield return Case("rela_target", e => Patch(e.Bytes, Shdr(e, ".rela.text", ShInfo), 0, 4),
                e => $"{Label(e, ".rela.text")}: target section 0 is not a section it can relocate");
            yield return Case("rela_target_strtab", e => Patch(e.Bytes, Shdr(e, ".rela.text", ShInfo), (ulong)Sec(e, ".strtab"), 4),
                e => $"target {Label(e, ".strtab")} of type 0x{ShtStrtab:x} cannot be relocated");

            // Relocation values: each found in the real module, then changed so that it cannot be applied.
            var pcRelative = shape.Relocations.First(r => r.Section == rela && (r.Type == RPc32 || r.Type == RPlt32));
            yield return Fixed("pc32_far", e => Patch(e.Bytes, e.RelaOffset(rela, pcRelative.Index) + RAddend, (ulong)pcRelative.Addend + FourGiB, 8),
                $"relocation {pcRelative.Index} ({(pcRelative.Type == RPc32 ? "R_X86_64_PC32" : "R_X86_64_PLT32")}) against {SymbolLabel(shape, pcRelative.Sym)}: value 0x{MalformedModule.Gap}" +
                " does not fit in 32 bits (sign-extended; the module must be within 2 GiB of its target)", CorpusStage.Relocate);
            // An absolute address of the module's own code or data (64-bit, or gcc's 32S),
            // made zero-extended 32-bit: modules live in the top 2 GiB, far above 4 GiB.
            var absolute = shape.Relocations.First(r => (r.Type == R64 || r.Type == R32S) && IsLoadedSection(shape, shape.Symbols[(int)r.Sym].Shndx));
            int absoluteRela = absolute.Section;
            yield return Fixed("abs32_overflow", e => Patch(e.Bytes, e.RelaOffset(absoluteRela, absolute.Index) + RInfo, R32, 4),
                $"relocation {absolute.Index} (R_X86_64_32) against {SymbolLabel(shape, absolute.Sym)}: value 0x{MalformedModule.Gap} does not fit in 32 bits (zero-extended)",
                CorpusStage.Relocate);
            var signed32 = shape.Relocations.FirstOrDefault(r => r.Type == R32S);
            if (signed32 != null)
                yield return Fixed("abs32s_overflow", e => Patch(e.Bytes, e.RelaOffset(signed32.Section, signed32.Index) + RAddend, (ulong)signed32.Addend - FourGiB, 8),
                    $"relocation {signed32.Index} (R_X86_64_32S) against {SymbolLabel(shape, signed32.Sym)}: value 0x{MalformedModule.Gap} does not fit in 32 bits (sign-extended)",
                    CorpusStage.Relocate);
            // A relocation against a section that is not loaded.
            int modinfo = Sec(shape, ".modinfo");
            int modinfoSymbol = shape.Symbols.FindIndex(s => s.Type == SttSection && s.Shndx == modinfo);
            if (modinfoSymbol > 0)
                yield return Case("rela_not_loaded", e => Patch(e.Bytes, first + RInfo + 4, (ulong)modinfoSymbol, 4),
                    e => $"{Label(e, ".modinfo")}, which is not loaded", CorpusStage.Relocate);
            // A per-CPU section larger than a unit (there is no module reserve: this is the only limit).
            if (shape.SectionIndex(PerCpuSection) >= 0)
            {
                string name = N("percpu_2m");
                yield return new MalformedModule(name, WithPerCpuSize(original, name, PerCpuLargerThanAnyUnit),
                    $"its per-CPU section ({PerCpuLargerThanAnyUnit} bytes) is larger than a unit (percpu.unit_vm=", CorpusStage.Loader);
            }
            // An undefined symbol nothing defines.
            yield return Fixed("unknown_symbol", e => RenameSymbol(e, "percy_log", "percy_lox"), "unknown symbol percy_lox", CorpusStage.Relocate);
            // The entry points.
            yield return Fixed("no_init", e => RenameSymbol(e, Init, Init[..^1] + "x"), $"no {Init}: every module defines both entry points", CorpusStage.Loader);
            yield return Fixed("init_not_code", e => Patch(Patch(Patch(e.Bytes, e.SymOffset(init) + StShndx, (ulong)Sec(e, ".rodata"), 2),
                                                                  e.SymOffset(init) + StValue, 0, 8), e.SymOffset(init) + StSize, 0, 8),
                $"{Init} and {Exit} must be in executable sections", CorpusStage.Loader);
        }

        // How the loader names a symbol in a message (ElfRelocatable.SymbolLabel).
        static string SymbolLabel(PatchableElf e, uint index)
        {
            var s = e.Symbols[(int)index];
            if (s.Name.Length > 0) return s.Name;
            if (s.Type == SttSection && s.Shndx < e.Sections.Count) return $"section {s.Shndx} ({e.Sections[s.Shndx].Name})";
            return $"symbol {index}";
        }

        static bool IsLoadedSection(PatchableElf e, ushort index)
        {
            const ulong Alloc = 0x2;
            return index > 0 && index < e.Sections.Count && (e.Sections[index].Flags & Alloc) != 0 && e.Sections[index].Name != PerCpuSection;
        }

        // .modinfo and .percy_exports: names, duplicates, exports.
        static IEnumerable<MalformedModule> Metadata(byte[] hello, byte[] counter)
        {
            var h = PatchableElf.Parse(hello);
            byte[] Info(string contents) => h.WithSectionContents(".modinfo", Encoding.ASCII.GetBytes(contents));
            yield return new MalformedModule("bad_m_no_name", Info("description=no name here\0license=MIT\0"),
                "no name= in .modinfo: not built as a Percy module", CorpusStage.Loader);
            yield return new MalformedModule("bad_m_name_chars", Info("name=Bad-Name\0"), ".modinfo name=: module names use only a-z, 0-9 and _", CorpusStage.Loader);
            yield return new MalformedModule("bad_m_name_long", Info($"name={new string('a', ModuleNameCapacity + 1)}\0"),
                ".modinfo name=: module name longer than 56 bytes", CorpusStage.Loader);
            yield return new MalformedModule("bad_m_name_empty", Info("name=\0license=MIT\0"), ".modinfo name=: empty module name", CorpusStage.Loader);
            // hello itself, under another file name, while hello is loaded.
            yield return new MalformedModule("bad_m_dup_hello", hello, "a module named hello is already loaded", CorpusStage.Loader, Requires: "hello");

            PatchableElf Counter(string name) => PatchableElf.Parse(Named(counter, name));
            byte[] Exports(PatchableElf e, params string[] names) =>
                e.WithSectionContents(".percy_exports", Encoding.ASCII.GetBytes(string.Concat(names.Select(n => n + "\0"))));
            yield return new MalformedModule("bad_m_export_undefined", Exports(Counter("bad_m_export_undefined"), "counter_sum", "counter_sux"),
                "exports counter_sux, which it does not define", CorpusStage.Loader);
            // counter_sum renamed to a kernel export of the same length, and exported.
            var kernel = Counter("bad_m_export_kernel");
            kernel = PatchableElf.Parse(RenameSymbol(kernel, "counter_sum", "percy_panic"));
            yield return new MalformedModule("bad_m_export_kernel", Exports(kernel, "percy_panic"),
                "exports percy_panic, which the kernel exports", CorpusStage.Loader);
            // counter under another name, while counter is loaded: the same exports.
            yield return new MalformedModule("bad_m_export_clash", Named(counter, "bad_m_export_clash"),
                "exports counter_this_cpu_inc, which counter already exports", CorpusStage.Loader, Requires: "counter");
        }

        // The symbol's name changed in place in the string table (same length). Refuses when
        // another symbol's name shares those bytes (a string table may merge suffixes).
        public static byte[] RenameSymbol(PatchableElf e, string from, string to)
        {
            if (from.Length != to.Length) throw new ArgumentException("a rename in place keeps the length");
            int index = e.SymbolIndex(from);
            if (index < 0) throw new InvalidOperationException($"no symbol {from}");
            uint NameOffset(int i) => BitConverter.ToUInt32(e.Bytes, e.SymOffset(i) + StName);
            uint at = NameOffset(index);
            for (int i = 0; i < e.Symbols.Count; i++)
                if (i != index && NameOffset(i) >= at && NameOffset(i) <= at + (uint)from.Length && e.Symbols[i].Name.Length > 0)
                    throw new InvalidOperationException($"{from} shares its name bytes with symbol {i} ({e.Symbols[i].Name})");
            byte[] b = (byte[])e.Bytes.Clone();
            int strings = (int)e.Sections[(int)e.Sections[e.SymtabIndex].Link].Offset;
            Encoding.ASCII.GetBytes(to).CopyTo(b, strings + (int)at);
            return b;
        }
    }
}
