using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The module loader's layout and relocator on objects from real compilers, checked
// against GNU ld: the same object is linked by ld with every section at the address our
// layout gave it (a generated linker script, --no-relax, the undefined symbols defined at
// the addresses our resolver returns, .data..percpu at the per-CPU offset), and every
// loaded section's bytes must be the same. GOT references are compared by meaning (ld
// orders its GOT differently): both must reach a slot holding the same value.
public unsafe class ModuleRelocationTests
{
    const ulong LdGotAddress = 0xFFFFFFFFD0000000;

    static string Root()
    {
        string dir = AppContext.BaseDirectory;
        while (dir != null && !File.Exists(Path.Combine(dir, "build.sh"))) dir = Path.GetDirectoryName(dir);
        return dir;
    }

    // ILC's object for the kernel: the real thing a C# module will look like.
    static string IlcObject()
    {
        string path = Path.Combine(Root(), "kernel/obj/Release/net10.0/linux-x64/native/percy.o");
        Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh kernel first");
        return path;
    }

    static ModuleHarness Load(string obj, Dictionary<string, ulong> symbols)
    {
        string error = ModuleHarness.Load(File.ReadAllBytes(obj), ModuleSources.ImageBase, ModuleSources.PerCpuOffset,
            ModuleSources.Resolver(symbols), out var h);
        Assert.True(error == null, $"{Path.GetFileName(obj)}: {error}");
        return h;
    }

    // Links `obj` with ld at the addresses of `h`; returns ld's output.
    // ld turns a GOT reference to an undefined weak symbol into an immediate 0 in a static
    // link (even with --no-relax), so the test defines such symbols as 0 for ld: the same
    // value our relocator gives them through a GOT slot.
    static PatchableElf LinkWithLd(string obj, ModuleHarness h, Dictionary<string, ulong> symbols, params string[] weakZero)
    {
        var script = new StringBuilder("SECTIONS\n{\n");
        var elf = PatchableElf.Load(obj);
        for (int i = 1; i < h.Elf.SectionCount; i++)
        {
            var region = h.Layout.Region(i);
            if (region == ModuleRegion.None) continue;
            ulong address = region == ModuleRegion.PerCpu ? h.Regions.PerCpuOffset : h.SectionAddress(i);
            script.Append($"  .s{i} 0x{address:x} : {{ *({elf.Sections[i].Name}) }}\n");
        }
        script.Append($"  .got 0x{LdGotAddress:x} : {{ *(.got) *(.got.plt) *(.igot.plt) }}\n");
        script.Append("  /DISCARD/ : { *(.comment) *(.note*) *(.debug*) *(.tdata) *(.tbss) }\n}\n");
        foreach (var kv in symbols) script.Append($"{kv.Key} = 0x{kv.Value:x};\n");
        foreach (string w in weakZero) script.Append($"{w} = 0;\n");
        string name = Path.GetFileNameWithoutExtension(obj);
        string scriptPath = Path.Combine(ModuleToolchain.Directory, name + ".ld");
        string output = Path.Combine(ModuleToolchain.Directory, name + ".linked");
        File.WriteAllText(scriptPath, script.ToString());
        ModuleToolchain.Run("ld", $"-static -nostdlib --no-relax -z norelro -z noexecstack --build-id=none --no-warn-rwx-segments -e 0 -T {scriptPath} -o {output} {obj}");
        return PatchableElf.Load(output);
    }

    // Our image against ld's output, section by section; returns the number of GOT
    // references checked.
    static int CompareWithLd(string obj, ModuleHarness h, PatchableElf linked)
    {
        var elf = PatchableElf.Load(obj);
        var gotSites = new Dictionary<int, List<PatchableElf.Rela>>();
        foreach (var r in elf.Relocations)
        {
            if (!ElfRelocatable.IsGotRelocation(r.Type)) continue;
            int target = (int)elf.Sections[r.Section].Info;
            if (!gotSites.TryGetValue(target, out var list)) gotSites[target] = list = new();
            list.Add(r);
        }
        var ldGot = linked.SectionIndex(".got") >= 0 ? linked.SectionBytes(linked.SectionIndex(".got")) : Array.Empty<byte>();
        int gotChecked = 0, sectionsCompared = 0;
        for (int i = 1; i < h.Elf.SectionCount; i++)
        {
            var region = h.Layout.Region(i);
            if (region == ModuleRegion.None || elf.Sections[i].Type == 8 || elf.Sections[i].Size == 0) continue;
            int out_ = linked.SectionIndex($".s{i}");
            Assert.True(out_ >= 0, $"ld output has no .s{i} ({elf.Sections[i].Name})");
            byte[] theirs = linked.SectionBytes(out_);
            byte[] ours = region == ModuleRegion.PerCpu ? h.PerCpuTemplate.AsSpan(0, (int)h.Layout.PerCpuSize).ToArray() : h.SectionImage(i);
            Assert.Equal(theirs.Length, ours.Length);
            ulong place = h.SectionAddress(i);
            if (gotSites.TryGetValue(i, out var sites))
            {
                foreach (var r in sites)
                {
                    int o = (int)r.Offset;
                    ulong p = place + r.Offset;
                    ulong ourSlot = p + (ulong)(long)BitConverter.ToInt32(ours, o) - (ulong)r.Addend;
                    ulong theirSlot = p + (ulong)(long)BitConverter.ToInt32(theirs, o) - (ulong)r.Addend;
                    ulong ourGot = h.Regions.ReadOnlyAddress + h.Layout.GotOffset;
                    Assert.InRange(ourSlot, ourGot, ourGot + h.Layout.GotSlots * 8 - 8);
                    Assert.Equal(0ul, (ourSlot - ourGot) % 8);
                    ulong ourValue = h.ReadU64(ourSlot);
                    Assert.True(theirSlot >= LdGotAddress && theirSlot - LdGotAddress + 8 <= (ulong)ldGot.Length,
                        $"{elf.Sections[i].Name}+0x{r.Offset:x} ({elf.Symbols[(int)r.Sym].Name}): ld's reference goes to 0x{theirSlot:x}, outside its GOT");
                    ulong theirValue = BitConverter.ToUInt64(ldGot, (int)(theirSlot - LdGotAddress));
                    Assert.True(ourValue == theirValue,
                        $"{elf.Sections[i].Name}+0x{r.Offset:x} ({elf.Symbols[(int)r.Sym].Name}): our GOT slot holds 0x{ourValue:x}, ld's 0x{theirValue:x}");
                    Array.Copy(theirs, o, ours, o, 4);          // the displacements differ by design
                    gotChecked++;
                }
            }
            for (int k = 0; k < ours.Length; k++)
                if (ours[k] != theirs[k])
                    Assert.Fail($"{Path.GetFileName(obj)}: {elf.Sections[i].Name}+0x{k:x}: ours 0x{ours[k]:x2}, ld's 0x{theirs[k]:x2}");
            sectionsCompared++;
        }
        Assert.True(sectionsCompared >= 3, "compared too few sections");
        return gotChecked;
    }

    static HashSet<uint> RelocationTypes(string obj)
    {
        var elf = PatchableElf.Load(obj);
        return elf.Relocations.Where(r => (elf.Sections[(int)elf.Sections[r.Section].Info].Flags & 2) != 0).Select(r => r.Type).ToHashSet();
    }

    [Theory]
    [InlineData("kernel")]
    [InlineData("kernel-g")]
    [InlineData("large")]
    [InlineData("pic")]
    [InlineData("pic-norelax")]
    public void GccModuleMatchesGnuLd(string variant)
    {
        string obj = ModuleSources.Gcc(variant);
        var symbols = ModuleSources.KernelSymbols();
        var h = Load(obj, symbols);
        int got = CompareWithLd(obj, h, LinkWithLd(obj, h, symbols, "weak_thing"));
        var types = RelocationTypes(obj);
        switch (variant)
        {
            case "kernel":
                Assert.Contains(Elf.R_X86_64_32S, types);
                Assert.Contains(Elf.R_X86_64_PC32, types);
                Assert.Contains(Elf.R_X86_64_PLT32, types);
                Assert.Contains(Elf.R_X86_64_64, types);
                Assert.Equal(0, got);
                break;
            case "large":
                Assert.Equal(new HashSet<uint> { Elf.R_X86_64_64 }, types);
                break;
            case "pic":
                Assert.Contains(Elf.R_X86_64_REX_GOTPCRELX, types);
                Assert.Contains(Elf.R_X86_64_GOTPCRELX, types);
                Assert.True(got > 0);
                break;
            case "pic-norelax":
                Assert.Contains(Elf.R_X86_64_GOTPCREL, types);
                Assert.True(got > 0);
                break;
        }
    }

    [Fact]
    public void NasmModuleMatchesGnuLd()
    {
        string obj = ModuleSources.NasmObject();
        var symbols = ModuleSources.KernelSymbols();
        var h = Load(obj, symbols);
        CompareWithLd(obj, h, LinkWithLd(obj, h, symbols));
        var types = RelocationTypes(obj);
        foreach (uint t in new[] { Elf.R_X86_64_PC32, Elf.R_X86_64_PLT32, Elf.R_X86_64_32S, Elf.R_X86_64_32, Elf.R_X86_64_64, Elf.R_X86_64_PC64 })
            Assert.Contains(t, types);
        // The per-CPU template holds the relocated pointer (pcpu_b: dq counter).
        ulong counter = h.SectionAddress(PatchableElf.Load(obj).SectionIndex(".data"));
        Assert.Equal(counter, BitConverter.ToUInt64(h.PerCpuTemplate, 8));
    }

    // ILC's own output (the kernel's object: a C# module will be the same kind of file):
    // accepted, laid out and relocated, and identical to ld's link of it. Its .eh_frame is
    // renamed first, only so that ld copies it instead of rewriting it.
    [Fact]
    public void IlcObjectMatchesGnuLd()
    {
        string obj = Path.Combine(ModuleToolchain.Directory, "ilc_kernel.o");
        ModuleToolchain.Run("objcopy", $"--rename-section .eh_frame=.ilc_eh_frame {IlcObject()} {obj}");
        var elf = PatchableElf.Load(obj);
        var symbols = new Dictionary<string, ulong>();
        ulong next = ModuleSources.KernelBase;
        foreach (var s in elf.Symbols.Where(s => s.Index > 0 && s.Shndx == 0))
            symbols[s.Name] = next += 0x40;
        var h = Load(obj, symbols);
        CompareWithLd(obj, h, LinkWithLd(obj, h, symbols));

        // What ILC emits, by target section: code and data only PLT32/PC32/64; R_X86_64_32
        // only in debug sections (skipped, never read).
        var applied = RelocationTypes(obj);
        Assert.Subset(new HashSet<uint> { Elf.R_X86_64_64, Elf.R_X86_64_PC32, Elf.R_X86_64_PLT32 }, applied);
        var all = elf.Relocations.Select(r => r.Type).ToHashSet();
        Assert.Subset(new HashSet<uint> { Elf.R_X86_64_64, Elf.R_X86_64_PC32, Elf.R_X86_64_PLT32, Elf.R_X86_64_32 }, all);

        // Layout of ILC's sections.
        Assert.Equal(ModuleRegion.Text, h.Layout.Region(elf.SectionIndex("__managedcode")));
        Assert.Equal(ModuleRegion.ReadOnly, h.Layout.Region(elf.SectionIndex(".rodata")));
        Assert.Equal(ModuleRegion.ReadOnly, h.Layout.Region(elf.SectionIndex(".dotnet_eh_table")));
        Assert.Equal(ModuleRegion.ReadOnly, h.Layout.Region(elf.SectionIndex(".ilc_eh_frame")));
        Assert.Equal(ModuleRegion.Data, h.Layout.Region(elf.SectionIndex(".data")));
        Assert.Equal(ModuleRegion.Data, h.Layout.Region(elf.SectionIndex("__modules")));
        Assert.Equal(ModuleRegion.Data, h.Layout.Region(elf.SectionIndex(".bss")));
        Assert.Equal(ModuleRegion.None, h.Layout.Region(elf.SectionIndex(".tdata")));
        Assert.Equal(ModuleRegion.None, h.Layout.Region(elf.SectionIndex(".debug_info")));
        Assert.Equal(symbols.Count, h.Relocator.UndefinedCount);
    }

    // The modules the build produces, C# and C: each laid out, relocated (its per-CPU
    // template too) and identical to GNU ld's link of it at the same addresses. Undefined
    // per-CPU symbols (the kernel's Magic, counter's export) resolve to per-CPU offsets.
    [Theory]
    [InlineData("hello")]
    [InlineData("counter")]
    [InlineData("counter_user")]
    [InlineData("bigarray")]
    [InlineData("refhold")]
    [InlineData("cmod")]
    public void BuiltModuleMatchesGnuLd(string name)
    {
        const string PerCpuPrefix = "per_cpu__";
        const ulong ExternalPerCpuOffsets = 0x8000;
        string obj = Path.Combine(Root(), "iso", "out", "modules", name + ".kmod");
        Assert.True(File.Exists(obj), $"{obj} is missing: run ./build.sh modules first");
        var symbols = new Dictionary<string, ulong>();
        var resolver = new DictionaryResolver();
        ulong nextAddress = ModuleSources.KernelBase, nextOffset = ExternalPerCpuOffsets;
        foreach (var s in PatchableElf.Load(obj).Symbols.Where(s => s.Index > 0 && s.Shndx == 0))
        {
            bool perCpu = s.Name.StartsWith(PerCpuPrefix, StringComparison.Ordinal);
            symbols[s.Name] = perCpu ? nextOffset += 8 : nextAddress += 0x40;
            resolver.Add(s.Name, symbols[s.Name], perCpu);
        }
        string error = ModuleHarness.Load(File.ReadAllBytes(obj), ModuleSources.ImageBase, ModuleSources.PerCpuOffset, resolver, out var h);
        Assert.True(error == null, $"{name}.kmod: {error}");
        Assert.Equal(symbols.Count, h.Relocator.UndefinedCount);
        CompareWithLd(obj, h, LinkWithLd(obj, h, symbols));
    }

    [Fact]
    public void LayoutIsWxorXAndAligned()
    {
        string obj = ModuleSources.Gcc("kernel-g");
        var elf = PatchableElf.Load(obj);
        var h = Load(obj, ModuleSources.KernelSymbols());
        var l = h.Layout;
        Assert.Equal(0ul, l.TextOffset);
        Assert.Equal(0ul, l.ReadOnlyOffset % 4096);
        Assert.Equal(0ul, l.DataOffset % 4096);
        Assert.Equal(l.TextMappedSize + l.ReadOnlyMappedSize + l.DataMappedSize, l.ImageSize);
        Assert.True(l.TextSize > 0 && l.ReadOnlySize > 0 && l.DataSize > 0);
        var ranges = new List<(ModuleRegion, ulong, ulong)>();
        foreach (var s in elf.Sections.Skip(1))
        {
            var region = l.Region(s.Index);
            bool alloc = (s.Flags & 2) != 0;
            if (s.Name == ".data..percpu") { Assert.Equal(ModuleRegion.PerCpu, region); continue; }
            if (!alloc || s.Type == 7) { Assert.Equal(ModuleRegion.None, region); continue; }
            var expected = (s.Flags & 4) != 0 ? ModuleRegion.Text : (s.Flags & 1) != 0 ? ModuleRegion.Data : ModuleRegion.ReadOnly;
            Assert.Equal(expected, region);
            ulong off = l.OffsetInRegion(s.Index);
            Assert.Equal(0ul, off % Math.Max(1, s.Align));
            ulong regionSize = region == ModuleRegion.Text ? l.TextSize : region == ModuleRegion.ReadOnly ? l.ReadOnlySize : l.DataSize;
            Assert.True(off + s.Size <= regionSize);
            foreach (var (r, a, b) in ranges)
                Assert.False(r == region && s.Size > 0 && off < b && a < off + s.Size, $"{s.Name} overlaps another section");
            ranges.Add((region, off, off + s.Size));
        }
        Assert.Contains(ranges, r => r.Item1 == ModuleRegion.Text);
        Assert.Equal(0u, l.GotSlots);

        // The per-CPU section: reported, not in the image; its symbols are offsets.
        var pcpu = elf[".data..percpu"];
        Assert.Equal(pcpu.Size, l.PerCpuSize);
        Assert.Equal(Math.Max(1, pcpu.Align), l.PerCpuAlignment);
        Assert.Equal(pcpu.Offset, l.PerCpuTemplateOffset);
        uint sym = (uint)elf.SymbolIndex("pcpu_var");
        Assert.True(h.Relocator.IsPerCpu(sym));
        Assert.Equal(ModuleSources.PerCpuOffset + elf.Symbols[(int)sym].Value, h.Relocator.SymbolValue(sym));
        // pcpu_ptr = &global_data[1], relocated in the template.
        ulong globalData = h.Relocator.SymbolValue((uint)elf.SymbolIndex("global_data"));
        Assert.Equal(globalData + 4, BitConverter.ToUInt64(h.PerCpuTemplate, (int)elf.Symbols[elf.SymbolIndex("pcpu_ptr")].Value));
        Assert.Equal(7, BitConverter.ToInt32(h.PerCpuTemplate, (int)elf.Symbols[(int)sym].Value));
    }

    [Fact]
    public void GotHasOneSlotPerDistinctSymbolInReadOnlyData()
    {
        string obj = ModuleSources.Gcc("pic");
        var elf = PatchableElf.Load(obj);
        var h = Load(obj, ModuleSources.KernelSymbols());
        var gotSymbols = elf.Relocations.Where(r => ElfRelocatable.IsGotRelocation(r.Type)).Select(r => r.Sym).Distinct().ToList();
        Assert.True(gotSymbols.Count >= 3);
        Assert.Equal((uint)gotSymbols.Count, h.Layout.GotSlots);
        Assert.True(h.Layout.GotOffset + h.Layout.GotSlots * 8 <= h.Layout.ReadOnlySize);
        Assert.Equal(0ul, h.Layout.GotOffset % 8);
        var slots = new HashSet<int>();
        foreach (uint s in gotSymbols)
        {
            int slot = h.Layout.GotSlot(s);
            Assert.InRange(slot, 0, gotSymbols.Count - 1);
            Assert.True(slots.Add(slot));
            ulong value = h.ReadU64(h.Regions.ReadOnlyAddress + h.Layout.GotOffset + (ulong)slot * 8);
            Assert.Equal(h.Relocator.SymbolValue(s), value);
        }
        // Per-CPU variables through the GOT: the slot holds the offset.
        uint pcpu = (uint)elf.SymbolIndex("pcpu_var");
        Assert.Contains(pcpu, gotSymbols);
        Assert.Equal(ModuleSources.PerCpuOffset + elf.Symbols[(int)pcpu].Value,
            h.ReadU64(h.Regions.ReadOnlyAddress + h.Layout.GotOffset + (ulong)h.Layout.GotSlot(pcpu) * 8));
        // The weak undefined symbol: 0.
        uint weak = (uint)elf.SymbolIndex("weak_thing");
        Assert.Equal(0ul, h.ReadU64(h.Regions.ReadOnlyAddress + h.Layout.GotOffset + (ulong)h.Layout.GotSlot(weak) * 8));
    }

    [Fact]
    public void UndefinedAndExternalPerCpuSymbolsAreListed()
    {
        string obj = ModuleSources.Gcc("kernel");
        var resolver = ModuleSources.Resolver(ModuleSources.KernelSymbols());
        resolver.Add("ext_counter", 0x40, perCpu: true);          // an exported per-CPU variable
        string error = ModuleHarness.Load(File.ReadAllBytes(obj), ModuleSources.ImageBase, ModuleSources.PerCpuOffset, resolver, out var h);
        Assert.Null(error);
        var undefined = Enumerable.Range(0, h.Relocator.UndefinedCount).Select(k => h.SymbolName(h.Relocator.UndefinedSymbol(k))).ToList();
        Assert.Equal(new[] { "ext_buf", "ext_counter", "ext_func", "weak_thing" }, undefined.OrderBy(s => s, StringComparer.Ordinal));
        Assert.Equal(undefined.OrderBy(s => s), resolver.Asked.OrderBy(s => s));
        Assert.Equal(1, h.Relocator.ExternalPerCpuCount);
        Assert.Equal("ext_counter", h.SymbolName(h.Relocator.ExternalPerCpuSymbol(0)));
        Assert.True(h.Relocator.IsResolved((uint)PatchableElf.Load(obj).SymbolIndex("weak_thing")));          // weak: 0
    }

    // The loader may place the regions apart and write them through other addresses.
    [Fact]
    public void RegionsMayBePlacedSeparately()
    {
        string obj = ModuleSources.Gcc("kernel");
        var bytes = File.ReadAllBytes(obj);
        var symbols = ModuleSources.KernelSymbols();
        var contiguous = Load(obj, symbols);
        ModuleHarness.ParseAndLayOut(bytes, out var h);
        var text = GC.AllocateArray<byte>((int)h.Layout.TextMappedSize, pinned: true);
        var ro = GC.AllocateArray<byte>((int)h.Layout.ReadOnlyMappedSize, pinned: true);
        var data = GC.AllocateArray<byte>((int)h.Layout.DataMappedSize, pinned: true);
        var template = GC.AllocateArray<byte>((int)h.Layout.PerCpuSize, pinned: true);
        fixed (byte* t = text) fixed (byte* r = ro) fixed (byte* d = data) fixed (byte* p = template)
        {
            var regions = new ModuleImageRegions
            {
                // The same addresses as the contiguous image: the bytes must come out the same.
                TextAddress = contiguous.Regions.TextAddress,
                ReadOnlyAddress = contiguous.Regions.ReadOnlyAddress,
                DataAddress = contiguous.Regions.DataAddress,
                Text = t, ReadOnly = r, Data = d,
                PerCpuOffset = ModuleSources.PerCpuOffset,
                PerCpuTemplate = p,
            };
            h.Layout.CopySections(regions);
            h.Layout.CopyPerCpuTemplate(p);
            Assert.True(Relocator.Relocate(h.Layout, regions, ModuleSources.Resolver(symbols), out _, out var e), ModuleHarness.Text(e));
        }
        var l = contiguous.Layout;
        Assert.Equal(contiguous.Image.AsSpan((int)l.TextOffset, text.Length).ToArray(), text);
        Assert.Equal(contiguous.Image.AsSpan((int)l.ReadOnlyOffset, ro.Length).ToArray(), ro);
        Assert.Equal(contiguous.Image.AsSpan((int)l.DataOffset, data.Length).ToArray(), data);
        Assert.Equal(contiguous.PerCpuTemplate.AsSpan(0, template.Length).ToArray(), template);
    }
}
