using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text.RegularExpressions;
using Percy.Kernel.Mm;
using Percy.Kernel.Percpu;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The kernel the build produced: its .data..percpu section and per_cpu__* symbols agree
// with the offsets in the generated C# (kernel/percpu/obj/PerCpu.g.cs), the initial values
// are in the section's bytes, and the section's size gives the expected first chunk.
// (The build checks the same with objdump after every link; this reads the ELF itself.)
public class PerCpuElfTests
{
    const string Section = ".data..percpu";

    static string Root()
    {
        string dir = AppContext.BaseDirectory;
        while (dir != null && !File.Exists(Path.Combine(dir, "build.sh"))) dir = Path.GetDirectoryName(dir);
        return dir;
    }

    static string Require(string path)
    {
        Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh kernel first");
        return path;
    }

    // The generated C#: "// <symbol>: <size> bytes at 0x<offset> (align <n>), <file>:<line>"
    // followed by "... const ulong <Name>Offset = 0x<offset>;" for each variable.
    static List<(string Symbol, ulong Size, ulong Offset, ulong ConstOffset)> Generated(string path)
    {
        string text = File.ReadAllText(path);
        var comments = Regex.Matches(text, @"// (per_cpu__\w+): (\d+) bytes at 0x([0-9a-f]+)");
        var consts = Regex.Matches(text, @"const ulong \w+Offset = 0x([0-9a-f]+);");
        Assert.Equal(comments.Count, consts.Count);
        return comments.Select((m, i) => (m.Groups[1].Value, ulong.Parse(m.Groups[2].Value),
            Convert.ToUInt64(m.Groups[3].Value, 16), Convert.ToUInt64(consts[i].Groups[1].Value, 16))).ToList();
    }

    [Fact]
    public void SymbolsAndGeneratedOffsetsAgree()
    {
        string root = Root();
        ElfFile elf = ElfFile.Read(Require(Path.Combine(root, "iso", "out", "percy.elf")));
        var vars = Generated(Require(Path.Combine(root, "kernel", "percpu", "obj", "PerCpu.g.cs")));

        int index = elf.SectionIndex(Section);
        Assert.True(index > 0, $"percy.elf has no {Section} section");
        Assert.Equal(0ul, elf.Sections[index].Addr);                    // linked at 0: symbols are offsets
        Assert.Equal(0ul, elf.Symbols["__per_cpu_start"].Value);
        Assert.Equal(elf.Sections[index].Size, elf.Symbols["__per_cpu_end"].Value);

        Assert.Contains(vars, v => v.Symbol == "per_cpu__Percy_Kernel_Percpu_PerCpuExamples__ProbeCounter");
        foreach (var v in vars)
        {
            Assert.Equal(v.Offset, v.ConstOffset);
            Assert.True(elf.Symbols.TryGetValue(v.Symbol, out ElfFile.Symbol s), $"{v.Symbol} is not in percy.elf");
            Assert.Equal(index, s.SectionIndex);
            Assert.Equal(v.ConstOffset, s.Value);
            Assert.Equal(v.Size, s.Size);
            Assert.True(s.Value + s.Size <= elf.Symbols["__per_cpu_end"].Value);
        }
        // Nothing else in the section claims to be a per-CPU variable.
        Assert.Equal(vars.Count, elf.Symbols.Count(kv => kv.Key.StartsWith("per_cpu__") && kv.Value.SectionIndex == index));
    }

    [Fact]
    public void ExamplesHaveTheirSizesAlignmentsAndInitialValues()
    {
        string root = Root();
        ElfFile elf = ElfFile.Read(Require(Path.Combine(root, "iso", "out", "percy.elf")));
        var section = elf.Sections[elf.SectionIndex(Section)];
        ElfFile.Symbol Var(string name) => elf.Symbols["per_cpu__Percy_Kernel_Percpu_PerCpuExamples__" + name];

        Assert.Equal(8ul, Var("ProbeCounter").Size);
        Assert.Equal(64ul, Var("Stats").Size);
        Assert.Equal(0ul, Var("Stats").Value % 64);                     // cache-line aligned
        Assert.Equal(16800ul, Var("Big").Size);                          // int[4200]
        Assert.Equal(0ul, Var("Big").Value % 4);

        ulong Read64(ulong offset) => BitConverter.ToUInt64(elf.Image, (int)(section.Offset + offset));
        uint Read32(ulong offset) => BitConverter.ToUInt32(elf.Image, (int)(section.Offset + offset));
        Assert.Equal(0x5045524359ul, Read64(Var("Magic").Value));
        Assert.Equal(42u, Read32(Var("Answer").Value));
        Assert.Equal(0ul, Read64(Var("ProbeCounter").Value));
        for (ulong i = 0; i < 16800; i += 4) Assert.Equal(0u, Read32(Var("Big").Value + i));

        // A struct from its template: new() { Events = 1, Ticks = 0x7469636b, Cpu = -1 }, 64 bytes.
        ulong st = Var("InitialisedStats").Value;
        Assert.Equal(64ul, Var("InitialisedStats").Size);
        Assert.Equal(0ul, st % 64);
        Assert.Equal(1ul, Read64(st));
        Assert.Equal(0x7469636bul, Read64(st + 8));
        Assert.Equal(0xFFFFFFFFu, Read32(st + 16));
        for (ulong i = 20; i < 64; i += 4) Assert.Equal(0u, Read32(st + i));
    }

    [Fact]
    public void InitialImageIsLoadedAtPerCpuLoad()
    {
        ElfFile elf = ElfFile.Read(Require(Path.Combine(Root(), "iso", "out", "percy.elf")));
        ulong size = elf.Symbols["__per_cpu_end"].Value;
        // A PT_LOAD at virtual 0 whose physical address is __per_cpu_load's (kernel image at -2 GiB).
        var seg = Assert.Single(elf.Segments, s => s.Type == 1 && s.VAddr == 0 && s.FileSize == size);
        ulong load = elf.Symbols["__per_cpu_load"].Value;
        Assert.Equal(load - AddressSpace.KernelImageBase, seg.PAddr);
        Assert.Equal(0ul, load % AddressSpace.PageSize);
        // Between rodata and data, so the kernel maps the template read-only.
        Assert.True(load >= elf.Symbols["__rodata_end"].Value && load + size <= elf.Symbols["__data_start"].Value);
    }

    [Fact]
    public void TheLinkedSectionGivesTheFirstChunk()
    {
        ElfFile elf = ElfFile.Read(Require(Path.Combine(Root(), "iso", "out", "percy.elf")));
        ulong staticSize = elf.Symbols["__per_cpu_end"].Value - elf.Symbols["__per_cpu_start"].Value;
        Assert.Null(PerCpuLayout.Build(staticSize, 0, PerCpuLayout.DefaultUnitVm, AddressSpace.PageSize, 64, out PerCpuUnitLayout l));
        Assert.Equal((staticSize + 4095) / 4096, l.CommittedPages);
        Assert.True(l.CommittedPages >= 5);                               // the 16,800-byte array alone spans five pages
        Assert.Equal(PerCpuLayout.DefaultUnitVm - staticSize, l.DynamicSize);
    }
}
