// Where each loaded section of a validated module goes in memory, with W^X:
//
//   region     sections                                   mapped
//   Text       SHF_ALLOC + SHF_EXECINSTR                  R X
//   ReadOnly   SHF_ALLOC, not SHF_WRITE; then the GOT     R   NX
//   Data       SHF_ALLOC + SHF_WRITE (data and bss)       R W NX
//
// Each region starts on a page and is mapped on its own, so no page is both writable and
// executable; inside a region, sections follow in section-index order, each at its own
// alignment (refused when larger than a page: the region is only page-aligned). For a
// contiguous image the regions follow each other, Text at 0, ReadOnly at TextMappedSize,
// Data after it (TextOffset/ReadOnlyOffset/DataOffset); the loader may also place them
// separately (ModuleImageRegions takes one address per region).
//
// Not in the image: sections that are not loaded (ElfRelocatable.IsLoaded: symbol and
// string tables, debug sections, .comment, notes, groups, TLS) and the per-CPU section
// `.data..percpu`, which is reported separately (PerCpuSize, PerCpuAlignment, and the
// template: PerCpuTemplateSize bytes of the file at PerCpuTemplateOffset, the rest zero).
// The loader allocates PerCpuSize bytes from the per-CPU allocator, builds the template
// with CopyPerCpuTemplate (the relocator may patch it), then copies it into every possible
// CPU's unit; symbols defined in the section are per-CPU offsets, not addresses.
//
// The GOT. gcc -fpic (and any code compiled for "extern data may be far") reaches symbols
// through R_X86_64_GOTPCREL/GOTPCRELX/REX_GOTPCRELX: a 32-bit PC-relative offset to an
// 8-byte slot that holds the symbol's value. The layout gives each distinct symbol
// referenced that way one slot (GotSlot), in a table at the end of the ReadOnly region,
// 8-aligned. Why read-only: the relocator fills the slots through the loader's writable
// view before the region is mapped read-only, and nothing writes them afterwards (no lazy
// binding), so a stray write cannot redirect the module's indirect calls (the same idea
// as RELRO). The relocator does not relax GOTPCRELX into direct references: it is
// optional, and going through the GOT is always correct.
//
// Sizes are bounded (MaxImageSize, 1 GiB): a module must sit within +-2 GiB of the kernel
// (see Relocator), and no real module comes close. Cost: the object and three arrays
// (a region byte and an offset per section, a GOT slot per symbol).
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    public enum ModuleRegion : byte { None = 0, Text = 1, ReadOnly = 2, Data = 3, PerCpu = 4 }

    // Where the loader put the regions: the address each runs at, and a writable view of
    // each (the same bytes, at another address: the direct map or a temporary mapping)
    // covering its mapped (page-rounded) size. PerCpuOffset: the offset of the module's
    // per-CPU allocation; PerCpuTemplate: a writable PerCpuSize-byte template, or null
    // when the module has no per-CPU section.
    public unsafe struct ModuleImageRegions
    {
        public ulong TextAddress, ReadOnlyAddress, DataAddress;
        public byte* Text, ReadOnly, Data;
        public ulong PerCpuOffset;
        public byte* PerCpuTemplate;
    }

    public sealed unsafe class ModuleImageLayout
    {
        public const ulong MaxImageSize = 1ul << 30;
        const ulong GotSlotSize = 8;

        readonly ElfRelocatable _elf;
        readonly ModuleRegion[] _region;     // per section
        readonly ulong[] _offset;            // per section: offset in its region
        readonly int[] _gotSlot;             // per symbol: slot + 1, 0 = none
        ulong _pageSize;

        public ElfRelocatable Module => _elf;
        public ulong PageSize => _pageSize;

        // Bytes used in each region, and the page-rounded size the loader maps.
        public ulong TextSize { get; private set; }
        public ulong ReadOnlySize { get; private set; }
        public ulong DataSize { get; private set; }
        public ulong TextMappedSize => RoundUp(TextSize);
        public ulong ReadOnlyMappedSize => RoundUp(ReadOnlySize);
        public ulong DataMappedSize => RoundUp(DataSize);

        // A contiguous image: Text, then ReadOnly, then Data, each page-aligned.
        public ulong TextOffset => 0;
        public ulong ReadOnlyOffset => TextMappedSize;
        public ulong DataOffset => TextMappedSize + ReadOnlyMappedSize;
        public ulong ImageSize => TextMappedSize + ReadOnlyMappedSize + DataMappedSize;

        // The GOT: GotSlots 8-byte slots at GotOffset in the ReadOnly region.
        public ulong GotOffset { get; private set; }
        public uint GotSlots { get; private set; }

        // The per-CPU section (PerCpuSection < 0: none).
        public int PerCpuSection => _elf.PerCpuSection;
        public ulong PerCpuSize { get; private set; }
        public ulong PerCpuAlignment { get; private set; }
        public ulong PerCpuTemplateOffset { get; private set; }     // in the file
        public ulong PerCpuTemplateSize { get; private set; }       // file bytes; the rest is zero

        ModuleImageLayout(ElfRelocatable elf)
        {
            _elf = elf;
            _region = new ModuleRegion[elf.SectionCount];
            _offset = new ulong[elf.SectionCount];
            _gotSlot = new int[elf.SymbolCount];
        }

        // Hands this object and its arrays to `free` (Heap.FreeObject in the kernel: no GC).
        // The ElfRelocatable is the caller's to release. Not to be used afterwards.
        public void Release(delegate*<object, void> free)
        {
            free(_region);
            free(_offset);
            free(_gotSlot);
            free(this);
        }

        public ModuleRegion Region(int section)
            => section >= 0 && section < _region.Length ? _region[section] : ModuleRegion.None;

        public ulong OffsetInRegion(int section)
            => section >= 0 && section < _offset.Length ? _offset[section] : 0;

        // The symbol's GOT slot, or -1 when no GOT relocation references it.
        public int GotSlot(uint symbol) => symbol < (uint)_gotSlot.Length ? _gotSlot[symbol] - 1 : -1;

        ulong RoundUp(ulong size) => (size + _pageSize - 1) & ~(_pageSize - 1);

        public ModuleImageRegions Contiguous(ulong runtimeBase, byte* writableBase)
        {
            ModuleImageRegions r = default;
            r.TextAddress = runtimeBase + TextOffset;
            r.ReadOnlyAddress = runtimeBase + ReadOnlyOffset;
            r.DataAddress = runtimeBase + DataOffset;
            if (writableBase == null) return r;
            r.Text = writableBase + TextOffset;
            r.ReadOnly = writableBase + ReadOnlyOffset;
            r.Data = writableBase + DataOffset;
            return r;
        }

        public static ulong RegionAddress(ModuleRegion region, in ModuleImageRegions r)
        {
            switch (region)
            {
                case ModuleRegion.Text: return r.TextAddress;
                case ModuleRegion.ReadOnly: return r.ReadOnlyAddress;
                case ModuleRegion.Data: return r.DataAddress;
                default: return 0;
            }
        }

        public static byte* RegionWritable(ModuleRegion region, in ModuleImageRegions r)
        {
            switch (region)
            {
                case ModuleRegion.Text: return r.Text;
                case ModuleRegion.ReadOnly: return r.ReadOnly;
                case ModuleRegion.Data: return r.Data;
                default: return null;
            }
        }

        // The runtime address of a loaded section (0 for one that is not loaded).
        public ulong SectionAddress(int section, in ModuleImageRegions r)
        {
            ModuleRegion region = Region(section);
            if (region == ModuleRegion.None || region == ModuleRegion.PerCpu) return 0;
            return RegionAddress(region, r) + _offset[section];
        }

        // Where the loader writes a loaded section now (null for one that is not loaded).
        public byte* SectionWritable(int section, in ModuleImageRegions r)
        {
            ModuleRegion region = Region(section);
            if (region == ModuleRegion.None || region == ModuleRegion.PerCpu) return null;
            byte* b = RegionWritable(region, r);
            return b == null ? null : b + _offset[section];
        }

        // Fills the writable views: zeroes each region's mapped size (padding and bss),
        // then copies every loaded section's file bytes. The GOT is filled by the relocator.
        public void CopySections(in ModuleImageRegions r)
        {
            Zero(r.Text, TextMappedSize);
            Zero(r.ReadOnly, ReadOnlyMappedSize);
            Zero(r.Data, DataMappedSize);
            for (int i = 1; i < _region.Length; i++)
            {
                if (_region[i] == ModuleRegion.None || _region[i] == ModuleRegion.PerCpu) continue;
                byte* src = _elf.SectionData(i);
                byte* dst = SectionWritable(i, r);
                if (src == null || dst == null) continue;
                Copy(dst, src, _elf.Section(i).Size);
            }
        }

        // The per-CPU template: PerCpuSize bytes, the file's bytes then zeroes.
        public void CopyPerCpuTemplate(byte* destination)
        {
            if (destination == null) return;
            Zero(destination, PerCpuSize);
            if (PerCpuTemplateSize != 0) Copy(destination, _elf.Data + PerCpuTemplateOffset, PerCpuTemplateSize);
        }

        static void Zero(byte* p, ulong n)
        {
            if (p == null) return;
            for (ulong i = 0; i < n; i++) p[i] = 0;
        }

        static void Copy(byte* dst, byte* src, ulong n)
        {
            for (ulong i = 0; i < n; i++) dst[i] = src[i];
        }

        static bool IsPowerOfTwo(ulong x) => x != 0 && (x & (x - 1)) == 0;

        // layout is set even on failure once it exists, so that the kernel can Release it.
        public static bool TryBuild(ElfRelocatable elf, ulong pageSize, out ModuleImageLayout layout, out ElfError error)
        {
            layout = null;
            error = default;
            if (elf == null) return error.Fail($"layout: no module");
            if (!IsPowerOfTwo(pageSize) || pageSize > MaxImageSize) return error.Fail($"layout: page size 0x{pageSize:x} is not a power of two");
            var l = new ModuleImageLayout(elf);
            layout = l;
            l._pageSize = pageSize;
            ulong text = 0, rodata = 0, data = 0;
            for (int i = 1; i < elf.SectionCount; i++)
            {
                ElfSection s = elf.Section(i);
                if (i == elf.PerCpuSection)
                {
                    if (s.Alignment > pageSize)
                        return error.Fail($"{elf.SectionLabel(i)}: alignment 0x{s.AddrAlign:x} is larger than a page");
                    if (s.Size > MaxImageSize)
                        return error.Fail($"{elf.SectionLabel(i)}: size 0x{s.Size:x} is larger than 1 GiB");
                    l._region[i] = ModuleRegion.PerCpu;
                    l.PerCpuSize = s.Size;
                    l.PerCpuAlignment = s.Alignment;
                    if (s.HasFileBytes)
                    {
                        l.PerCpuTemplateOffset = s.Offset;
                        l.PerCpuTemplateSize = s.Size;
                    }
                    continue;
                }
                if (!elf.IsLoaded(i)) continue;
                if (s.Alignment > pageSize)
                    return error.Fail($"{elf.SectionLabel(i)}: alignment 0x{s.AddrAlign:x} is larger than a page");
                ModuleRegion region = (s.Flags & Elf.SHF_EXECINSTR) != 0 ? ModuleRegion.Text
                    : (s.Flags & Elf.SHF_WRITE) != 0 ? ModuleRegion.Data : ModuleRegion.ReadOnly;
                ulong used = region == ModuleRegion.Text ? text : region == ModuleRegion.ReadOnly ? rodata : data;
                ulong at = (used + s.Alignment - 1) & ~(s.Alignment - 1);   // used <= 1 GiB, alignment <= a page
                if (s.Size > MaxImageSize || at > MaxImageSize - s.Size)
                    return error.Fail($"{elf.SectionLabel(i)}: size 0x{s.Size:x} makes the module image larger than 1 GiB");
                l._region[i] = region;
                l._offset[i] = at;
                if (region == ModuleRegion.Text) text = at + s.Size;
                else if (region == ModuleRegion.ReadOnly) rodata = at + s.Size;
                else data = at + s.Size;
            }

            // One GOT slot per distinct symbol referenced through a GOT relocation in a
            // section whose relocations are applied. The number of slots is at most the
            // number of symbols, which the file's length bounds.
            uint slots = 0;
            for (int r = 1; r < elf.SectionCount; r++)
            {
                ElfSection s = elf.Section(r);
                if (s.Type != Elf.SHT_RELA || !elf.IsRelocated((int)s.Info)) continue;
                ulong count = elf.RelocationCount(r);
                for (ulong j = 0; j < count; j++)
                {
                    ElfRela rel = elf.Relocation(r, j);
                    if (!ElfRelocatable.IsGotRelocation(rel.Type) || l._gotSlot[rel.Symbol] != 0) continue;
                    l._gotSlot[rel.Symbol] = (int)++slots;
                }
            }
            if (slots != 0)
            {
                ulong at = (rodata + GotSlotSize - 1) & ~(GotSlotSize - 1);
                ulong size = (ulong)slots * GotSlotSize;
                if (size > MaxImageSize || at > MaxImageSize - size)
                    return error.Fail($"layout: the GOT ({slots} slots) makes the module image larger than 1 GiB");
                l.GotOffset = at;
                l.GotSlots = slots;
                rodata = at + size;
            }

            l.TextSize = text;
            l.ReadOnlySize = rodata;
            l.DataSize = data;
            if (l.TextMappedSize + l.ReadOnlyMappedSize > MaxImageSize || l.ImageSize > MaxImageSize)
                return error.Fail($"layout: the module image (0x{text:x} + 0x{rodata:x} + 0x{data:x} bytes) is larger than 1 GiB");
            return true;
        }
    }
}
