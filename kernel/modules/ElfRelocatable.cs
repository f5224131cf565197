// A module file (.kmod): an ELF64 x86-64 relocatable object (ET_REL), validated before
// anything else reads it. Modules come from the .NET ILCompiler (sections __managedcode,
// .rodata, .dotnet_eh_table, .eh_frame as SHT_X86_64_UNWIND, .data, .bss, __modules,
// __unbox, an unused .tdata; NASM objects merged with `ld -r`) or from gcc
// (-mcmodel=kernel -fno-pic -mno-red-zone -ffreestanding).
//
// TryParse checks, in this order, and stops at the first problem with one line naming it
// (ElfError): the header; every section header; that no two pieces of the file overlap;
// the symbol table and its strings; every relocation section. After it succeeds, every
// accessor below reads only validated bytes, and the later stages (ModuleImageLayout,
// Relocator) need no bounds checks of their own on the file. The file is never read
// outside [data, data + length), never written, and every loop is bounded by a count
// that was checked against the file's length.
//
// Decisions, and why:
// * Refused, each with its reason: extended section numbering (e_shnum 0 / SHN_XINDEX;
//   no module has 65280 sections), SHT_REL (no addend: gcc, ILC and NASM all emit RELA
//   on x86-64), common symbols (build with -fno-common: a common symbol has no section to
//   live in), ifunc symbols, sections both writable and executable (W^X), allocated
//   sections of a type the loader does not know how to load, compressed allocated
//   sections, undefined local symbols.
// * Loaded sections (IsLoaded): SHF_ALLOC ones, except notes (e.g. .note.gnu.property),
//   thread-local ones (SHF_TLS: ILC emits a .tdata that nothing references; Percy gives
//   modules no thread-local storage, so a reference to it fails in the relocator) and
//   the per-CPU section. Everything else (symbol and string tables, .comment, debug
//   sections, groups, a non-allocated .eh_frame) stays in the file.
// * Relocations are validated entry by entry (type, symbol index, offset + width inside
//   the target) only where they will be applied: targets that are loaded, and the per-CPU
//   section. Relocations of sections that are not loaded (.rela.debug_*) are skipped, as
//   Linux does: their header is checked, their entries are never read, so a debug
//   relocation type the relocator does not know cannot make a module unloadable.
// * The per-CPU section `.data..percpu` (at most one; allocated, not executable, not
//   TLS) is not part of the image: each CPU gets a copy of its template. Relocations in
//   it may only be absolute (R_X86_64_64/32/32S): a PC-relative value has no single
//   place (one copy per CPU) and a GOT slot would be the same for all copies anyway.
//
// Cost: the object itself and one int[e_shnum + 2] for the overlap check (sorted, so
// the check is O(n log n) even for a hostile section count).
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    public struct ElfSection
    {
        public uint Name;
        public uint Type;
        public ulong Flags;
        public ulong Address;
        public ulong Offset;
        public ulong Size;
        public uint Link;
        public uint Info;
        public ulong AddrAlign;
        public ulong EntrySize;

        public bool HasFileBytes => Type != Elf.SHT_NOBITS && Type != Elf.SHT_NULL;
        public ulong Alignment => AddrAlign == 0 ? 1 : AddrAlign;
    }

    public struct ElfSymbol
    {
        public uint Name;
        public byte Info;
        public byte Other;
        public uint SectionIndex;
        public ulong Value;
        public ulong Size;

        public byte Bind => (byte)(Info >> 4);
        public byte Type => (byte)(Info & 0xF);
    }

    public struct ElfRela
    {
        public ulong Offset;
        public uint Type;
        public uint Symbol;
        public long Addend;
    }

    public sealed unsafe class ElfRelocatable
    {
        const int MaxNameInMessage = 96;
        const int HeaderRange = -1, SectionTableRange = -2;   // pseudo-sections in the overlap check

        readonly byte* _data;
        readonly ulong _length;
        byte* _sectionTable;
        int _sectionCount;
        int _sectionNames;          // e_shstrndx
        int _symbolTable = -1;
        int _strings = -1;          // the symbol table's string table
        uint _symbolCount;
        uint _firstGlobal;          // symtab sh_info
        int _perCpu = -1;
        int[] _order;               // CheckOverlaps' sort, kept for Release

        ElfRelocatable(byte* data, ulong length)
        {
            _data = data;
            _length = length;
        }

        public byte* Data => _data;
        public ulong Length => _length;
        public int SectionCount => _sectionCount;
        public int SymbolTableIndex => _symbolTable;
        public uint SymbolCount => _symbolCount;
        public uint FirstGlobalSymbol => _firstGlobal;
        public int PerCpuSection => _perCpu;          // -1: the module has no per-CPU data

        // ---- Accessors (valid after TryParse succeeded) ----

        public ElfSection Section(int index)
        {
            ElfSection s = default;
            if (index < 0 || index >= _sectionCount) return s;
            byte* h = _sectionTable + (ulong)index * Elf.ShdrSize;
            s.Name = *(uint*)h;
            s.Type = *(uint*)(h + 4);
            s.Flags = *(ulong*)(h + 8);
            s.Address = *(ulong*)(h + 16);
            s.Offset = *(ulong*)(h + 24);
            s.Size = *(ulong*)(h + 32);
            s.Link = *(uint*)(h + 40);
            s.Info = *(uint*)(h + 44);
            s.AddrAlign = *(ulong*)(h + 48);
            s.EntrySize = *(ulong*)(h + 56);
            return s;
        }

        // The section's bytes in the file; null for SHT_NOBITS/SHT_NULL.
        public byte* SectionData(int index)
        {
            ElfSection s = Section(index);
            return s.HasFileBytes ? _data + s.Offset : null;
        }

        public byte* SectionName(int index, out int length)
        {
            ElfSection names = Section(_sectionNames);
            return StringAt(names, Section(index).Name, out length);
        }

        public ElfSymbol Symbol(uint index)
        {
            ElfSymbol s = default;
            if (index >= _symbolCount) return s;
            byte* p = _data + Section(_symbolTable).Offset + (ulong)index * Elf.SymSize;
            s.Name = *(uint*)p;
            s.Info = p[4];
            s.Other = p[5];
            s.SectionIndex = *(ushort*)(p + 6);
            s.Value = *(ulong*)(p + 8);
            s.Size = *(ulong*)(p + 16);
            return s;
        }

        public byte* SymbolName(uint index, out int length)
        {
            length = 0;
            if (index >= _symbolCount) return null;
            return StringAt(Section(_strings), Symbol(index).Name, out length);
        }

        // The first section with this name, or -1.
        public int FindSection(string name)
        {
            for (int i = 1; i < _sectionCount; i++)
                if (SectionNameIs(i, name)) return i;
            return -1;
        }

        // The global (or weak) symbol defined in this module under the `length` bytes at
        // `name`, or 0: how the loader finds entry points and exports.
        public uint FindDefinedGlobal(byte* name, int length) => FindDefinedGlobal(name, length, null);

        public uint FindDefinedGlobal(string name) => FindDefinedGlobal(null, name.Length, name);

        // By bytes, or by `text` when it is not null: an entry point's name is a string literal.
        uint FindDefinedGlobal(byte* name, int length, string text)
        {
            for (uint i = _firstGlobal; i < _symbolCount; i++)
            {
                if (Symbol(i).SectionIndex == Elf.SHN_UNDEF) continue;
                byte* candidate = SymbolName(i, out int n);
                if (n != length) continue;
                int k = 0;
                while (k < length && candidate[k] == (text == null ? name[k] : (byte)text[k])) k++;
                if (k == length) return i;
            }
            return 0;
        }

        public bool IsUndefined(uint index)
            => index != 0 && index < _symbolCount && Symbol(index).SectionIndex == Elf.SHN_UNDEF;

        public ulong RelocationCount(int section)
        {
            ElfSection s = Section(section);
            return s.Type == Elf.SHT_RELA ? s.Size / Elf.RelaSize : 0;
        }

        public ElfRela Relocation(int section, ulong index)
        {
            ElfRela r = default;
            if (index >= RelocationCount(section)) return r;
            byte* p = _data + Section(section).Offset + index * Elf.RelaSize;
            r.Offset = *(ulong*)p;
            ulong info = *(ulong*)(p + 8);
            r.Symbol = (uint)(info >> 32);
            r.Type = (uint)info;
            r.Addend = *(long*)(p + 16);
            return r;
        }

        // Loaded into the module image (see the header comment).
        public bool IsLoaded(int index)
        {
            if (index <= 0 || index >= _sectionCount || index == _perCpu) return false;
            ElfSection s = Section(index);
            return (s.Flags & Elf.SHF_ALLOC) != 0 && (s.Flags & Elf.SHF_TLS) == 0 && s.Type != Elf.SHT_NOTE;
        }

        // The relocations aimed at this section are applied (loaded, or the per-CPU template).
        public bool IsRelocated(int index) => IsLoaded(index) || (index == _perCpu && index >= 0);

        // Bytes a relocation of this type writes; -1 for a type the relocator does not apply.
        public static int RelocationWidth(uint type)
        {
            switch (type)
            {
                case Elf.R_X86_64_NONE: return 0;
                case Elf.R_X86_64_64:
                case Elf.R_X86_64_PC64: return 8;
                case Elf.R_X86_64_PC32:
                case Elf.R_X86_64_PLT32:
                case Elf.R_X86_64_32:
                case Elf.R_X86_64_32S:
                case Elf.R_X86_64_GOTPCREL:
                case Elf.R_X86_64_GOTPCRELX:
                case Elf.R_X86_64_REX_GOTPCRELX: return 4;
                default: return -1;
            }
        }

        public static bool IsGotRelocation(uint type)
            => type == Elf.R_X86_64_GOTPCREL || type == Elf.R_X86_64_GOTPCRELX || type == Elf.R_X86_64_REX_GOTPCRELX;

        public static bool IsAbsoluteRelocation(uint type)
            => type == Elf.R_X86_64_NONE || type == Elf.R_X86_64_64 || type == Elf.R_X86_64_32 || type == Elf.R_X86_64_32S;

        public static string RelocationTypeName(uint type)
        {
            switch (type)
            {
                case Elf.R_X86_64_NONE: return "R_X86_64_NONE";
                case Elf.R_X86_64_64: return "R_X86_64_64";
                case Elf.R_X86_64_PC32: return "R_X86_64_PC32";
                case Elf.R_X86_64_PLT32: return "R_X86_64_PLT32";
                case Elf.R_X86_64_GOTPCREL: return "R_X86_64_GOTPCREL";
                case Elf.R_X86_64_32: return "R_X86_64_32";
                case Elf.R_X86_64_32S: return "R_X86_64_32S";
                case Elf.R_X86_64_PC64: return "R_X86_64_PC64";
                case Elf.R_X86_64_GOTPCRELX: return "R_X86_64_GOTPCRELX";
                case Elf.R_X86_64_REX_GOTPCRELX: return "R_X86_64_REX_GOTPCRELX";
                default: return "unsupported type";
            }
        }

        // ---- Message pieces: names from the file, sanitised and bounded ----

        // `section 3 (__managedcode)`
        public TextLine SectionLabel(int index)
        {
            TextLine line = $"section {index}";
            if (index >= 0 && index < _sectionCount && NameInRange(_sectionNames, Section(index).Name))
            {
                byte* name = SectionName(index, out int n);
                if (n == 0) return line;
                line.Append(' ');
                line.Append('(');
                AppendName(ref line, name, n);
                line.Append(')');
            }
            return line;
        }

        // `ext_func`, or `section 2 (.text)` for a section symbol, or `symbol 5` without a name.
        public TextLine SymbolLabel(uint index)
        {
            TextLine line = default;
            byte* name = null;
            int n = 0;
            if (index < _symbolCount && NameInRange(_strings, Symbol(index).Name)) name = SymbolName(index, out n);
            if (n > 0) { AppendName(ref line, name, n); return line; }
            ElfSymbol s = Symbol(index);
            if (index != 0 && index < _symbolCount && s.Type == Elf.STT_SECTION && s.SectionIndex < (uint)_sectionCount)
                return SectionLabel((int)s.SectionIndex);
            line = $"symbol {index}";
            return line;
        }

        // Printable ASCII only (a name could hold a newline), at most MaxNameInMessage bytes.
        public static void AppendName(ref TextLine line, byte* name, int length)
        {
            int n = length < MaxNameInMessage ? length : MaxNameInMessage;
            for (int i = 0; i < n; i++)
            {
                byte c = name[i];
                line.Append(c < 0x20 || c >= 0x7F ? '?' : (char)c);
            }
            if (n < length) { line.Append('.'); line.Append('.'); line.Append('.'); }
        }

        bool NameInRange(int stringSection, uint offset)
            => stringSection >= 0 && stringSection < _sectionCount && offset < Section(stringSection).Size;

        // A string in a validated string table (its last byte is NUL, so the scan ends inside it).
        byte* StringAt(ElfSection table, uint offset, out int length)
        {
            length = 0;
            if (offset >= table.Size) return null;
            byte* s = _data + table.Offset + offset;
            ulong max = table.Size - offset;
            while ((ulong)length < max && s[length] != 0) length++;
            return s;
        }

        bool SectionNameIs(int index, string expected)
        {
            byte* name = SectionName(index, out int n);
            if (name == null || n != expected.Length) return false;
            for (int i = 0; i < n; i++)
                if (name[i] != (byte)expected[i]) return false;
            return true;
        }

        static bool IsPowerOfTwo(ulong x) => x != 0 && (x & (x - 1)) == 0;

        // [offset, offset + size) inside [0, length), without overflow.
        static bool FitsIn(ulong offset, ulong size, ulong length) => size <= length && offset <= length - size;

        // ---- Validation ----

        // elf is set even on failure (null only without a file), so that the kernel can
        // Release it; its accessors mean something only after success.
        public static bool TryParse(byte* data, ulong length, out ElfRelocatable elf, out ElfError error)
        {
            elf = null;
            error = default;
            if (data == null && length != 0) return error.Fail($"header: no file");
            var e = new ElfRelocatable(data, length);
            elf = e;
            return e.CheckHeader(ref error) && e.CheckSections(ref error) && e.CheckOverlaps(ref error)
                && e.CheckSymbols(ref error) && e.CheckRelocations(ref error);
        }

        // Hands this object and the arrays it made to `free` (the kernel has no garbage
        // collector: Heap.FreeObject). Not to be used afterwards.
        public void Release(delegate*<object, void> free)
        {
            if (_order != null) free(_order);
            _order = null;
            free(this);
        }

        bool CheckHeader(ref ElfError error)
        {
            byte* d = _data;
            if (_length < Elf.EhdrSize)
                return error.Fail($"header: the file is {_length} bytes, shorter than an ELF header ({Elf.EhdrSize})");
            if (d[0] != Elf.ELFMAG0 || d[1] != Elf.ELFMAG1 || d[2] != Elf.ELFMAG2 || d[3] != Elf.ELFMAG3)
                return error.Fail($"header: not an ELF file (bad magic)");
            if (d[Elf.EI_CLASS] != Elf.ELFCLASS64)
                return error.Fail($"header: not a 64-bit ELF file (EI_CLASS {d[Elf.EI_CLASS]})");
            if (d[Elf.EI_DATA] != Elf.ELFDATA2LSB)
                return error.Fail($"header: not a little-endian ELF file (EI_DATA {d[Elf.EI_DATA]})");
            if (d[Elf.EI_VERSION] != Elf.EV_CURRENT)
                return error.Fail($"header: unknown ELF version {d[Elf.EI_VERSION]} (EI_VERSION)");
            ushort type = *(ushort*)(d + 16), machine = *(ushort*)(d + 18);
            uint version = *(uint*)(d + 20);
            ulong shoff = *(ulong*)(d + 40);
            ushort ehsize = *(ushort*)(d + 52), shentsize = *(ushort*)(d + 58);
            uint shnum = *(ushort*)(d + 60), shstrndx = *(ushort*)(d + 62);
            if (type != Elf.ET_REL)
                return error.Fail($"header: not a relocatable object (e_type {type}; a module is ET_REL, 1)");
            if (machine != Elf.EM_X86_64)
                return error.Fail($"header: not an x86-64 object (e_machine {machine})");
            if (version != Elf.EV_CURRENT)
                return error.Fail($"header: unknown ELF version {version} (e_version)");
            if (ehsize != Elf.EhdrSize)
                return error.Fail($"header: e_ehsize is {ehsize}, not {Elf.EhdrSize}");
            if (shoff == 0)
                return error.Fail($"header: no section header table (e_shoff 0)");
            if (shnum == 0)
                return error.Fail($"header: extended section numbering (e_shnum 0) is not supported");
            if (shnum >= Elf.SHN_LORESERVE)
                return error.Fail($"header: e_shnum {shnum} is in the reserved range");
            if (shentsize != Elf.ShdrSize)
                return error.Fail($"header: e_shentsize is {shentsize}, not {Elf.ShdrSize}");
            ulong tableSize = (ulong)shnum * Elf.ShdrSize;
            if (!FitsIn(shoff, tableSize, _length))
                return error.Fail($"header: the section header table (offset 0x{shoff:x}, {shnum} entries) is past the end of the file ({_length} bytes)");
            if (shstrndx == Elf.SHN_XINDEX)
                return error.Fail($"header: extended section-name table index (SHN_XINDEX) is not supported");
            if (shstrndx == Elf.SHN_UNDEF)
                return error.Fail($"header: no section-name string table (e_shstrndx 0)");
            if (shstrndx >= shnum)
                return error.Fail($"header: e_shstrndx {shstrndx} is not a section (there are {shnum})");
            _sectionTable = d + shoff;
            _sectionCount = (int)shnum;
            _sectionNames = (int)shstrndx;
            return true;
        }

        // A string table: inside the file, not empty, and its last byte is NUL (so that every
        // string in it ends inside it).
        bool CheckStringTable(int index, string what, ref ElfError error)
        {
            ElfSection s = Section(index);
            if (s.Type != Elf.SHT_STRTAB)
                return error.Fail($"section {index}: the {what} is of type 0x{s.Type:x}, not SHT_STRTAB");
            if (!FitsIn(s.Offset, s.Size, _length))
                return error.Fail($"section {index}: the {what} (offset 0x{s.Offset:x}, size 0x{s.Size:x}) is past the end of the file ({_length} bytes)");
            if (s.Size == 0)
                return error.Fail($"section {index}: the {what} is empty");
            if (_data[s.Offset + s.Size - 1] != 0)
                return error.Fail($"section {index}: the {what} does not end with a NUL byte");
            return true;
        }

        bool CheckSections(ref ElfError error)
        {
            if (!CheckStringTable(_sectionNames, "section-name string table", ref error)) return false;
            ulong namesSize = Section(_sectionNames).Size;
            if (Section(0).Type != Elf.SHT_NULL)
                return error.Fail($"section 0: type 0x{Section(0).Type:x}, not SHT_NULL");
            for (int i = 1; i < _sectionCount; i++)
            {
                ElfSection s = Section(i);
                if (s.Name >= namesSize)
                    return error.Fail($"section {i}: name offset 0x{s.Name:x} is outside the section-name string table ({namesSize} bytes)");
                if (s.HasFileBytes && !FitsIn(s.Offset, s.Size, _length))
                    return error.Fail($"{SectionLabel(i)}: offset 0x{s.Offset:x} size 0x{s.Size:x} is past the end of the file ({_length} bytes)");
                if (s.AddrAlign != 0 && !IsPowerOfTwo(s.AddrAlign))
                    return error.Fail($"{SectionLabel(i)}: alignment 0x{s.AddrAlign:x} is not a power of two");
                if (s.Type == Elf.SHT_REL)
                    return error.Fail($"{SectionLabel(i)}: SHT_REL relocations (without addends) are not supported; x86-64 objects use SHT_RELA");
                if (s.Type == Elf.SHT_SYMTAB)
                {
                    if (_symbolTable >= 0)
                        return error.Fail($"{SectionLabel(i)}: a second symbol table (the first is section {_symbolTable})");
                    _symbolTable = i;
                }
                if ((s.Flags & Elf.SHF_ALLOC) != 0)
                {
                    bool loadable = s.Type == Elf.SHT_PROGBITS || s.Type == Elf.SHT_NOBITS || s.Type == Elf.SHT_X86_64_UNWIND
                        || s.Type == Elf.SHT_INIT_ARRAY || s.Type == Elf.SHT_FINI_ARRAY || s.Type == Elf.SHT_PREINIT_ARRAY
                        || s.Type == Elf.SHT_NOTE;
                    if (!loadable)
                        return error.Fail($"{SectionLabel(i)}: allocated section of unsupported type 0x{s.Type:x}");
                    if ((s.Flags & Elf.SHF_WRITE) != 0 && (s.Flags & Elf.SHF_EXECINSTR) != 0)
                        return error.Fail($"{SectionLabel(i)}: section is both writable and executable (W^X)");
                    if ((s.Flags & Elf.SHF_COMPRESSED) != 0)
                        return error.Fail($"{SectionLabel(i)}: allocated section is compressed");
                }
                if (SectionNameIs(i, Elf.PerCpuSectionName))
                {
                    if (_perCpu >= 0)
                        return error.Fail($"{SectionLabel(i)}: a second per-CPU section (the first is section {_perCpu})");
                    if ((s.Flags & Elf.SHF_ALLOC) == 0 || (s.Flags & (Elf.SHF_EXECINSTR | Elf.SHF_TLS)) != 0
                        || (s.Type != Elf.SHT_PROGBITS && s.Type != Elf.SHT_NOBITS))
                        return error.Fail($"{SectionLabel(i)}: the per-CPU section must be allocated data (PROGBITS or NOBITS, not executable, not TLS)");
                    _perCpu = i;
                }
            }
            if (_symbolTable < 0) return error.Fail($"no symbol table (SHT_SYMTAB)");
            return true;
        }

        // No two pieces of the file overlap: the header, the section header table, and every
        // section with file bytes. Sorted by start, each piece must begin at or after the end
        // of every piece before it.
        bool CheckOverlaps(ref ElfError error)
        {
            int[] order = _order = new int[_sectionCount + 2];
            int n = 0;
            order[n++] = HeaderRange;
            order[n++] = SectionTableRange;
            for (int i = 1; i < _sectionCount; i++)
            {
                ElfSection s = Section(i);
                if (s.HasFileBytes && s.Size != 0) order[n++] = i;
            }
            HeapSort(order, n);
            int widest = order[0];
            for (int k = 1; k < n; k++)
            {
                int next = order[k];
                if (RangeStart(next) < RangeEnd(widest))
                    return error.Fail($"{RangeLabel(widest)} and {RangeLabel(next)} overlap in the file");
                if (RangeEnd(next) > RangeEnd(widest)) widest = next;
            }
            return true;
        }

        ulong RangeStart(int piece)
        {
            if (piece == HeaderRange) return 0;
            if (piece == SectionTableRange) return (ulong)(_sectionTable - _data);
            return Section(piece).Offset;
        }

        ulong RangeEnd(int piece)
        {
            if (piece == HeaderRange) return Elf.EhdrSize;
            if (piece == SectionTableRange) return (ulong)(_sectionTable - _data) + (ulong)_sectionCount * Elf.ShdrSize;
            return Section(piece).Offset + Section(piece).Size;
        }

        TextLine RangeLabel(int piece)
        {
            if (piece == HeaderRange) { TextLine h = $"the ELF header"; return h; }
            if (piece == SectionTableRange) { TextLine t = $"the section header table"; return t; }
            return SectionLabel(piece);
        }

        bool RangeBefore(int a, int b)
        {
            ulong sa = RangeStart(a), sb = RangeStart(b);
            return sa < sb || (sa == sb && a < b);
        }

        void HeapSort(int[] a, int n)
        {
            for (int i = n / 2 - 1; i >= 0; i--) SiftDown(a, i, n);
            for (int end = n - 1; end > 0; end--)
            {
                int t = a[0]; a[0] = a[end]; a[end] = t;
                SiftDown(a, 0, end);
            }
        }

        void SiftDown(int[] a, int root, int n)
        {
            while (true)
            {
                int child = 2 * root + 1;
                if (child >= n) return;
                if (child + 1 < n && RangeBefore(a[child], a[child + 1])) child++;
                if (!RangeBefore(a[root], a[child])) return;
                int t = a[root]; a[root] = a[child]; a[child] = t;
                root = child;
            }
        }

        bool CheckSymbols(ref ElfError error)
        {
            ElfSection symtab = Section(_symbolTable);
            TextLine where = SectionLabel(_symbolTable);
            if (symtab.EntrySize != Elf.SymSize)
                return error.Fail($"{where}: entry size {symtab.EntrySize}, not {Elf.SymSize}");
            if (symtab.Size % Elf.SymSize != 0 || symtab.Size == 0)
                return error.Fail($"{where}: size 0x{symtab.Size:x} is not a non-zero multiple of {Elf.SymSize}");
            if (symtab.Link == 0 || symtab.Link >= (uint)_sectionCount)
                return error.Fail($"{where}: string table link {symtab.Link} is not a section");
            if (!CheckStringTable((int)symtab.Link, "symbol string table", ref error)) return false;
            ulong count = symtab.Size / Elf.SymSize;      // <= length / 24: fits in uint
            if (symtab.Info > count)
                return error.Fail($"{where}: first global symbol {symtab.Info} is past the end ({count} symbols)");
            _strings = (int)symtab.Link;
            _symbolCount = (uint)count;
            _firstGlobal = symtab.Info;
            ulong stringsSize = Section(_strings).Size;

            for (uint i = 1; i < _symbolCount; i++)
            {
                ElfSymbol s = Symbol(i);
                if (s.Name >= stringsSize)
                    return error.Fail($"symbol {i}: name offset 0x{s.Name:x} is outside the string table ({stringsSize} bytes)");
                byte bind = s.Bind;
                if (bind != Elf.STB_LOCAL && bind != Elf.STB_GLOBAL && bind != Elf.STB_WEAK && bind != Elf.STB_GNU_UNIQUE)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): unsupported binding {bind}");
                uint shndx = s.SectionIndex;
                if (shndx == Elf.SHN_UNDEF)
                {
                    SymbolName(i, out int n);
                    if (bind == Elf.STB_LOCAL)
                        return error.Fail($"symbol {i} ({SymbolLabel(i)}): undefined local symbol");
                    if (n == 0)
                        return error.Fail($"symbol {i}: undefined symbol without a name");
                    continue;
                }
                if (shndx == Elf.SHN_ABS) continue;
                if (shndx == Elf.SHN_COMMON)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): common symbol; build modules with -fno-common");
                if (shndx == Elf.SHN_XINDEX)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): extended section index (SHN_XINDEX) is not supported");
                if (shndx >= Elf.SHN_LORESERVE)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): reserved section index 0x{shndx:x}");
                if (shndx >= (uint)_sectionCount)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): section index {shndx} is not a section (there are {_sectionCount})");
                ulong size = Section((int)shndx).Size;
                if (!FitsIn(s.Value, s.Size, size))
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): value 0x{s.Value:x} size 0x{s.Size:x} is outside {SectionLabel((int)shndx)} (0x{size:x} bytes)");
                if (s.Type == Elf.STT_GNU_IFUNC)
                    return error.Fail($"symbol {i} ({SymbolLabel(i)}): ifunc symbols are not supported");
            }
            return true;
        }

        bool CheckRelocations(ref ElfError error)
        {
            for (int r = 1; r < _sectionCount; r++)
            {
                ElfSection s = Section(r);
                if (s.Type != Elf.SHT_RELA) continue;
                if (s.Link != (uint)_symbolTable)
                    return error.Fail($"{SectionLabel(r)}: linked to section {s.Link}, not to the symbol table (section {_symbolTable})");
                if (s.EntrySize != Elf.RelaSize)
                    return error.Fail($"{SectionLabel(r)}: entry size {s.EntrySize}, not {Elf.RelaSize}");
                if (s.Size % Elf.RelaSize != 0)
                    return error.Fail($"{SectionLabel(r)}: size 0x{s.Size:x} is not a multiple of {Elf.RelaSize}");
                if (s.Info == 0 || s.Info >= (uint)_sectionCount || s.Info == (uint)r)
                    return error.Fail($"{SectionLabel(r)}: target section {s.Info} is not a section it can relocate");
                int target = (int)s.Info;
                ElfSection t = Section(target);
                bool content = t.Type == Elf.SHT_PROGBITS || t.Type == Elf.SHT_NOBITS || t.Type == Elf.SHT_X86_64_UNWIND
                    || t.Type == Elf.SHT_INIT_ARRAY || t.Type == Elf.SHT_FINI_ARRAY || t.Type == Elf.SHT_PREINIT_ARRAY
                    || t.Type == Elf.SHT_NOTE;
                if (!content)
                    return error.Fail($"{SectionLabel(r)}: target {SectionLabel(target)} of type 0x{t.Type:x} cannot be relocated");
                if (!IsRelocated(target)) continue;             // not loaded: skipped, entries never read

                ulong count = s.Size / Elf.RelaSize;
                for (ulong j = 0; j < count; j++)
                {
                    ElfRela rel = Relocation(r, j);
                    int width = RelocationWidth(rel.Type);
                    if (width < 0)
                        return error.Fail($"{SectionLabel(r)}: relocation {j}: unsupported relocation type {rel.Type}");
                    if (rel.Symbol >= _symbolCount)
                        return error.Fail($"{SectionLabel(r)}: relocation {j}: symbol index {rel.Symbol} is past the end of the symbol table ({_symbolCount} symbols)");
                    if (!FitsIn(rel.Offset, (ulong)width, t.Size))
                        return error.Fail($"{SectionLabel(r)}: relocation {j}: offset 0x{rel.Offset:x} is past the end of {SectionLabel(target)}");
                    if (target == _perCpu && !IsAbsoluteRelocation(rel.Type))
                        return error.Fail($"{SectionLabel(r)}: relocation {j} ({RelocationTypeName(rel.Type)}): only absolute relocations can be applied in the per-CPU section (one copy per CPU)");
                }
            }
            return true;
        }
    }
}
