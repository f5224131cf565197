using Percy.Tests.Support;

namespace Percy.Qemu.Tests;

/// <summary>
/// What `lsmod` must print as a module's core= (its mapped image), worked out from the .kmod
/// file by the rules of docs/modules.md, independently of the kernel's ModuleImageLayout:
/// loaded sections (allocated; not notes, not thread-local, not .data..percpu) go to three
/// page-aligned W^X regions, text (executable), read-only (then the GOT: one 8-byte slot per
/// symbol referenced through a GOT relocation) and data (writable), each section at its
/// alignment in section order.
/// </summary>
public static class ModuleImageModel
{
    public const ulong PageSize = 4096;

    const ulong Write = 0x1, Alloc = 0x2, Exec = 0x4, Tls = 0x400;
    const uint Note = 7, Rela = 4;
    const uint GotPcRel = 9, GotPcRelX = 41, RexGotPcRelX = 42;
    const ulong GotSlot = 8;
    const string PerCpuSection = ".data..percpu";

    static ulong Align(ulong x, ulong a) => a <= 1 ? x : (x + a - 1) / a * a;

    static bool Loaded(PatchableElf.Section s) =>
        s.Index > 0 && (s.Flags & Alloc) != 0 && (s.Flags & Tls) == 0 && s.Type != Note && s.Name != PerCpuSection;

    public static ulong CoreBytes(PatchableElf elf)
    {
        ulong text = 0, rodata = 0, data = 0;
        foreach (var s in elf.Sections.Where(Loaded))
        {
            ref ulong used = ref (s.Flags & Exec) != 0 ? ref text : ref (s.Flags & Write) != 0 ? ref data : ref rodata;
            used = Align(used, s.Align) + s.Size;
        }
        bool Relocated(PatchableElf.Section target) => Loaded(target) || target.Name == PerCpuSection;
        int gotSymbols = elf.Relocations
            .Where(r => Relocated(elf.Sections[(int)elf.Sections[r.Section].Info]) && r.Type is GotPcRel or GotPcRelX or RexGotPcRelX)
            .Select(r => r.Sym).Distinct().Count();
        if (gotSymbols > 0) rodata = Align(rodata, GotSlot) + (ulong)gotSymbols * GotSlot;
        return Align(text, PageSize) + Align(rodata, PageSize) + Align(data, PageSize);
    }

    /// <summary>The size of the module's per-CPU section (0 without one).</summary>
    public static ulong PerCpuBytes(PatchableElf elf) => elf.Sections.FirstOrDefault(s => s.Name == PerCpuSection)?.Size ?? 0;
}
