// Applies a module's RELA relocations, in two steps the loader calls in order:
//
//   ResolveSymbols  the value of every symbol:
//                     defined in a loaded section   its section's runtime address + st_value
//                     defined in .data..percpu      the module's per-CPU OFFSET + st_value
//                     SHN_ABS                       st_value
//                     undefined                     SymbolResolver (kernel exports, other
//                                                   modules; it says whether the value is a
//                                                   per-CPU offset); an unresolved weak
//                                                   symbol is 0; otherwise the module fails
//                                                   with `unknown symbol <name>` (Linux's words;
//                                                   the first, and how many more there are);
//                                                   _GLOBAL_OFFSET_TABLE_ is the module's GOT
//                   Every undefined symbol is resolved, referenced or not (as Linux does), and
//                   they are listed afterwards (UndefinedSymbol, IsPerCpu) so that the loader
//                   can record which module or kernel export each dependency came from.
//   Apply           fills the GOT, then writes each relocation through the writable views:
//
//   type                      value (S symbol, A addend, P place, G the symbol's GOT slot)
//   R_X86_64_NONE             nothing
//   R_X86_64_64               S + A                       8 bytes
//   R_X86_64_PC64             S + A - P                   8 bytes
//   R_X86_64_32               S + A, zero-extends to it   4 bytes
//   R_X86_64_32S              S + A, sign-extends to it   4 bytes
//   R_X86_64_PC32, PLT32      S + A - P, sign-extends     4 bytes
//   R_X86_64_GOTPCREL, GOTPCRELX, REX_GOTPCRELX
//                             G + A - P, sign-extends     4 bytes (never relaxed)
//
// These are what gcc -mcmodel=kernel (32S, PC32, PLT32, 64), gcc -fpic (the GOT ones),
// gcc -mcmodel=large and NASM (64, 32, PC64) emit, and all that ILC emits: its object
// for the kernel holds R_X86_64_64, 32, PC32 and PLT32 only (PLT32 for every RIP-relative
// reference, data included; 32 only in debug sections).
//
// PLT32 is applied as PC32: there is no PLT; a module calls kernel functions directly.
// So every RIP-relative reference must reach its target within +-2 GiB: the kernel is
// linked in the top 2 GiB (0xFFFFFFFF80000000), and the loader must place module images
// within +-2 GiB of it (AddressSpace: slot 511, after the kernel image). A reference that
// does not reach fails here, naming the relocation, its type, its symbol and the value,
// rather than jumping somewhere else at run time. All arithmetic is modulo 2^64, as the
// CPU's is; "fits" means the field, extended the way the CPU extends it, gives back the
// 64-bit value.
//
// Relocations of sections that are not loaded (debug) are skipped: nothing at run time
// reads those bytes. A relocation in a loaded section against a symbol of a section that
// is not loaded (or of a thread-local section: modules have no TLS) is refused. The per-
// CPU section's relocations (absolute only: ElfRelocatable refuses the rest) are written
// into the per-CPU template, so every CPU's copy starts with the relocated value.
//
// Cost: per module, a value (8 bytes) and a kind (1 byte) per symbol and two small lists.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    // Looks up a module's undefined symbol (an abstract class, not an interface: Percy's
    // runtime has no interface dispatch). name: the symbol's `length` bytes in the module
    // file (the terminating NUL not counted). perCpu: value is a per-CPU offset (an exported
    // per-CPU variable), not an address. Called once per undefined symbol per ResolveSymbols.
    public abstract unsafe class SymbolResolver
    {
        public abstract bool Resolve(byte* name, int length, out ulong value, out bool perCpu);
    }

    public sealed unsafe class Relocator
    {
        const byte KindUnresolved = 0, KindAddress = 1, KindPerCpu = 2, KindNotLoaded = 3, KindThreadLocal = 4;

        readonly ElfRelocatable _elf;
        readonly ModuleImageLayout _layout;
        readonly ulong[] _value;
        readonly byte[] _kind;
        readonly uint[] _undefined;
        readonly uint[] _externalPerCpu;
        int _externalPerCpuCount;
        bool _resolved;

        public Relocator(ModuleImageLayout layout)
        {
            _layout = layout;
            _elf = layout.Module;
            uint n = _elf.SymbolCount;
            _value = new ulong[n];
            _kind = new byte[n];
            int undefined = 0;
            for (uint i = 1; i < n; i++)
                if (_elf.IsUndefined(i)) undefined++;
            _undefined = new uint[undefined];
            _externalPerCpu = new uint[undefined];
            undefined = 0;
            for (uint i = 1; i < n; i++)
                if (_elf.IsUndefined(i)) _undefined[undefined++] = i;
        }

        // Hands this object and its arrays to `free` (Heap.FreeObject in the kernel: no GC).
        // Not to be used afterwards.
        public void Release(delegate*<object, void> free)
        {
            free(_value);
            free(_kind);
            free(_undefined);
            free(_externalPerCpu);
            free(this);
        }

        // The module's undefined symbols (symbol indexes; ElfRelocatable.SymbolName gives the name).
        public int UndefinedCount => _undefined.Length;
        public uint UndefinedSymbol(int k) => k >= 0 && k < _undefined.Length ? _undefined[k] : 0;

        // After ResolveSymbols: the undefined symbols that resolved to another module's or
        // the kernel's per-CPU variable (a per-CPU offset).
        public int ExternalPerCpuCount => _externalPerCpuCount;
        public uint ExternalPerCpuSymbol(int k) => k >= 0 && k < _externalPerCpuCount ? _externalPerCpu[k] : 0;

        public bool IsResolved(uint symbol) => symbol < (uint)_kind.Length && (_kind[symbol] == KindAddress || _kind[symbol] == KindPerCpu);
        public bool IsPerCpu(uint symbol) => symbol < (uint)_kind.Length && _kind[symbol] == KindPerCpu;
        public ulong SymbolValue(uint symbol) => symbol < (uint)_value.Length ? _value[symbol] : 0;

        // Both steps; `relocator` is set even on failure, for its lists.
        public static bool Relocate(ModuleImageLayout layout, in ModuleImageRegions regions, SymbolResolver resolver,
                                    out Relocator relocator, out ElfError error)
        {
            relocator = new Relocator(layout);
            if (!relocator.ResolveSymbols(regions, resolver, out error)) return false;
            return relocator.Apply(regions, out error);
        }

        public bool ResolveSymbols(in ModuleImageRegions regions, SymbolResolver resolver, out ElfError error)
        {
            error = default;
            _externalPerCpuCount = 0;
            uint firstUnknown = 0, unknown = 0;
            for (uint i = 1; i < _elf.SymbolCount; i++)
            {
                ElfSymbol s = _elf.Symbol(i);
                uint section = s.SectionIndex;
                if (section == Elf.SHN_UNDEF)
                {
                    byte* name = _elf.SymbolName(i, out int length);
                    ulong value = 0;
                    bool perCpu = false;
                    if (NameIs(name, length, Elf.GlobalOffsetTableName))
                    {
                        _value[i] = regions.ReadOnlyAddress + _layout.GotOffset;
                        _kind[i] = KindAddress;
                    }
                    else if (resolver != null && resolver.Resolve(name, length, out value, out perCpu))
                    {
                        _value[i] = value;
                        _kind[i] = perCpu ? KindPerCpu : KindAddress;
                        if (perCpu) _externalPerCpu[_externalPerCpuCount++] = i;
                    }
                    else if (s.Bind == Elf.STB_WEAK)
                    {
                        _value[i] = 0;
                        _kind[i] = KindAddress;
                    }
                    else
                    {
                        _kind[i] = KindUnresolved;
                        if (unknown++ == 0) firstUnknown = i;
                    }
                    continue;
                }
                if (s.Type == Elf.STT_TLS) { _kind[i] = KindThreadLocal; continue; }
                if (section == Elf.SHN_ABS) { _value[i] = s.Value; _kind[i] = KindAddress; continue; }
                int sec = (int)section;                          // validated: a real section
                if (sec == _elf.PerCpuSection)
                {
                    _value[i] = regions.PerCpuOffset + s.Value;
                    _kind[i] = KindPerCpu;
                }
                else if (_elf.IsLoaded(sec))
                {
                    _value[i] = _layout.SectionAddress(sec, regions) + s.Value;
                    _kind[i] = KindAddress;
                }
                else _kind[i] = (_elf.Section(sec).Flags & Elf.SHF_TLS) != 0 ? KindThreadLocal : KindNotLoaded;
            }
            _resolved = true;
            if (unknown == 1) return error.Fail($"unknown symbol {_elf.SymbolLabel(firstUnknown)}");
            if (unknown > 1) return error.Fail($"unknown symbol {_elf.SymbolLabel(firstUnknown)} (and {unknown - 1} more)");
            return true;
        }

        static bool NameIs(byte* name, int length, string expected)
        {
            if (name == null || length != expected.Length) return false;
            for (int i = 0; i < length; i++)
                if (name[i] != (byte)expected[i]) return false;
            return true;
        }

        // Why symbol `sym` cannot be used by a relocation, or true when it can.
        bool CheckUsable(uint sym, TextLine what, ref ElfError error)
        {
            if (sym == 0) return true;                       // the null symbol: S = 0
            switch (_kind[sym])
            {
                case KindAddress:
                case KindPerCpu:
                    return true;
                case KindThreadLocal:
                    return error.Fail($"{what}: {_elf.SymbolLabel(sym)} is thread-local; modules have no thread-local storage");
                case KindNotLoaded:
                    ElfSymbol s = _elf.Symbol(sym);
                    TextLine section = _elf.SectionLabel((int)s.SectionIndex);
                    return s.Type == Elf.STT_SECTION
                        ? error.Fail($"{what}: refers to {section}, which is not loaded")
                        : error.Fail($"{what}: {_elf.SymbolLabel(sym)} is in {section}, which is not loaded");
                default:
                    return error.Fail($"{what}: unknown symbol {_elf.SymbolLabel(sym)}");
            }
        }

        static bool FitsSigned32(ulong v) => (ulong)(long)(int)(uint)v == v;

        public bool Apply(in ModuleImageRegions regions, out ElfError error)
        {
            error = default;
            if (!_resolved) return error.Fail($"relocate: symbols were not resolved");
            if ((_layout.TextSize != 0 && regions.Text == null) || (_layout.ReadOnlySize != 0 && regions.ReadOnly == null)
                || (_layout.DataSize != 0 && regions.Data == null))
                return error.Fail($"relocate: no writable view of a region of the image");

            // The GOT: each slot holds its symbol's value (an address, or a per-CPU offset).
            if (_layout.GotSlots != 0)
            {
                ulong* got = (ulong*)(regions.ReadOnly + _layout.GotOffset);
                for (uint i = 0; i < _elf.SymbolCount; i++)
                {
                    int slot = _layout.GotSlot(i);
                    if (slot < 0) continue;
                    TextLine what = $"GOT slot {slot}";
                    if (!CheckUsable(i, what, ref error)) return false;
                    got[slot] = _value[i];
                }
            }

            int perCpu = _elf.PerCpuSection;
            for (int r = 1; r < _elf.SectionCount; r++)
            {
                ElfSection rs = _elf.Section(r);
                if (rs.Type != Elf.SHT_RELA) continue;
                int target = (int)rs.Info;
                if (!_elf.IsRelocated(target)) continue;         // not loaded (debug): skipped
                ulong count = _elf.RelocationCount(r);
                if (count == 0) continue;
                byte* write;
                ulong place;
                if (target == perCpu)
                {
                    if (regions.PerCpuTemplate == null)
                        return error.Fail($"{_elf.SectionLabel(r)}: no writable per-CPU template to relocate");
                    write = regions.PerCpuTemplate;
                    place = 0;                                   // only absolute types: P unused
                }
                else
                {
                    write = _layout.SectionWritable(target, regions);
                    place = _layout.SectionAddress(target, regions);
                }

                for (ulong j = 0; j < count; j++)
                {
                    ElfRela rel = _elf.Relocation(r, j);
                    if (rel.Type == Elf.R_X86_64_NONE) continue;
                    uint sym = rel.Symbol;
                    if (_kind[sym] != KindAddress && _kind[sym] != KindPerCpu && sym != 0)
                    {
                        TextLine what = $"{_elf.SectionLabel(r)}: relocation {j} ({ElfRelocatable.RelocationTypeName(rel.Type)})";
                        if (!CheckUsable(sym, what, ref error)) return false;
                    }
                    ulong s = sym == 0 ? 0 : _value[sym];
                    ulong a = (ulong)rel.Addend;
                    ulong p = place + rel.Offset;
                    byte* at = write + rel.Offset;
                    ulong v;
                    switch (rel.Type)
                    {
                        case Elf.R_X86_64_64:
                            *(ulong*)at = s + a;
                            continue;
                        case Elf.R_X86_64_PC64:
                            *(ulong*)at = s + a - p;
                            continue;
                        case Elf.R_X86_64_32:
                            v = s + a;
                            if (v > 0xFFFFFFFFul) return Overflow(r, j, rel, v, "zero-extended", ref error);
                            break;
                        case Elf.R_X86_64_32S:
                            v = s + a;
                            if (!FitsSigned32(v)) return Overflow(r, j, rel, v, "sign-extended", ref error);
                            break;
                        case Elf.R_X86_64_PC32:
                        case Elf.R_X86_64_PLT32:
                            v = s + a - p;
                            if (!FitsSigned32(v)) return Overflow(r, j, rel, v, "sign-extended; the module must be within 2 GiB of its target", ref error);
                            break;
                        case Elf.R_X86_64_GOTPCREL:
                        case Elf.R_X86_64_GOTPCRELX:
                        case Elf.R_X86_64_REX_GOTPCRELX:
                            ulong g = regions.ReadOnlyAddress + _layout.GotOffset + (ulong)_layout.GotSlot(sym) * 8;
                            v = g + a - p;
                            if (!FitsSigned32(v)) return Overflow(r, j, rel, v, "sign-extended; the GOT must be within 2 GiB of the code", ref error);
                            break;
                        default:                                 // ElfRelocatable refused it already
                            return error.Fail($"{_elf.SectionLabel(r)}: relocation {j}: unsupported relocation type {rel.Type}");
                    }
                    *(uint*)at = (uint)v;
                }
            }
            return true;
        }

        bool Overflow(int r, ulong j, ElfRela rel, ulong value, string how, ref ElfError error)
            => error.Fail($"{_elf.SectionLabel(r)}: relocation {j} ({ElfRelocatable.RelocationTypeName(rel.Type)}) against {_elf.SymbolLabel(rel.Symbol)}: value 0x{value:x} does not fit in 32 bits ({how})");
    }
}
