using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Threading;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Percy.Tests;

// Mutated real objects through every stage of the module loader: parse, the lookups by
// name that follow it (.modinfo name=, entry points, .percy_exports), layout, copy,
// resolve, relocate. The input ends at a PROT_NONE guard page, and so do each region of
// the image and the per-CPU template, so a read past the file or a write past a region
// kills the test host. (The input stays writable, since re-protecting it for each of
// 100,000 inputs costs seconds; instead, every input is compared with its copy after
// the run: the loader must not write to its file.) Every input must end in
// success or in exactly one printable line, and the run must finish (it runs on its own
// thread with a deadline: a loop that does not end fails the test instead of hanging it).
public unsafe class ModuleFuzzTests
{
    readonly ITestOutputHelper _out;
    public ModuleFuzzTests(ITestOutputHelper output) => _out = output;

    const int Seed = 0x6B6D6F64;                 // "kmod"
    const int Iterations = 100_000;
    const int IlcIterations = 500;
    const int MaxRegion = 16 << 20;

    // Resolves by a hash of the name, without allocating: most names to a kernel address,
    // some to a per-CPU offset, some not at all (-> unknown symbol, or 0 when weak).
    // (Names of unmutated objects all resolve: only mutated names can fail.)
    sealed class HashResolver : SymbolResolver
    {
        public bool Mixed = true;

        public override bool Resolve(byte* name, int length, out ulong value, out bool perCpu)
        {
            uint h = 2166136261;
            for (int i = 0; i < length; i++) h = (h ^ name[i]) * 16777619;
            bool real = length > 2 && (name[0] == 'e' && name[1] == 'x' || name[0] == 'p' || name[0] == 'R' || name[0] == '_');
            perCpu = Mixed && !real && (h & 0x300) == 0x300;
            value = perCpu ? (h & 0xFFF8) : ModuleSources.KernelBase + (h & 0xFFFFF0);
            return real || !Mixed || h % 7 != 0;
        }
    }

    // One printable line: the ElfError contract.
    static void CheckLine(in ElfError e, string stage, ref int failures)
    {
        if (!e.IsSet || e.Length == 0 || e.Length > ElfError.Capacity)
            throw new Xunit.Sdk.XunitException($"{stage} failed without a line");
        for (int i = 0; i < e.Length; i++)
            if (e[i] < 0x20 || e[i] >= 0x7F)
                throw new Xunit.Sdk.XunitException($"{stage}: a control character in: {ModuleHarness.Text(e)}");
        failures++;
    }

    sealed class Outcome
    {
        public int ParseFailed, LayoutFailed, RelocateFailed, Loaded, TooBig;
        public int Named, Exports;          // inputs with a .modinfo name=; export names looked up
        public override string ToString() =>
            $"parse failed {ParseFailed}, layout failed {LayoutFailed}, relocation failed {RelocateFailed}, loaded {Loaded}, too big to relocate {TooBig}; named {Named}, exports looked up {Exports}";
    }

    // What the loader reads by name once a file has parsed (ModuleLoader.Link and
    // RecordExports): .modinfo's name=, the entry points, each .percy_exports name and its
    // definition. Every string must lie inside the file (which ends at a guard page).
    static void Lookups(ElfRelocatable elf, byte* file, int length, Outcome outcome)
    {
        ModuleStrings info = ModuleStrings.Of(elf, Elf.ModInfoSectionName);
        if (info.TryGet("name", out byte* name, out int nameLength))
        {
            InFile(name, nameLength, file, length, "name=");
            outcome.Named++;
        }
        elf.FindDefinedGlobal("percy_module_init");
        elf.FindDefinedGlobal("percy_module_exit");
        ModuleStrings exports = ModuleStrings.Of(elf, Elf.ExportsSectionName);
        ulong cursor = 0, previous = 0;
        while (exports.Next(ref cursor, out byte* export, out int n))
        {
            if (cursor <= previous) throw new Xunit.Sdk.XunitException("ModuleStrings.Next did not move forward");
            previous = cursor;
            InFile(export, n, file, length, "an export name");
            uint symbol = elf.FindDefinedGlobal(export, n);
            if (symbol >= elf.SymbolCount) throw new Xunit.Sdk.XunitException("FindDefinedGlobal: symbol index out of range");
            outcome.Exports++;
        }
    }

    static void InFile(byte* text, int n, byte* file, int length, string what)
    {
        if (n < 0 || text < file || text + n > file + length)
            throw new Xunit.Sdk.XunitException($"{what} is outside the file");
    }

    // Interesting offsets of an object: its header, section headers, symbols and relocations.
    static List<(int Start, int Length)> Structures(PatchableElf e)
    {
        var s = new List<(int, int)> { (0, 64), ((int)e.ShOff, e.Sections.Count * 64) };
        foreach (var sec in e.Sections)
            if (sec.Type == 2 || sec.Type == 4) s.Add(((int)sec.Offset, (int)sec.Size));
        return s;
    }

    static void Mutate(byte[] file, int length, List<(int Start, int Length)> structures, Random rng)
    {
        int count = 1 + rng.Next(4);
        for (int m = 0; m < count; m++)
        {
            int at;
            if (rng.Next(4) != 0)
            {
                var (start, len) = structures[rng.Next(structures.Count)];
                at = start + rng.Next(Math.Max(1, len));
            }
            else at = rng.Next(length);
            if (at >= length) at = length - 1;
            switch (rng.Next(5))
            {
                case 0: file[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1: file[at] = (byte)rng.Next(256); break;
                case 2: file[at] = new byte[] { 0, 1, 0x7F, 0x80, 0xFF, 0x40, 0x18 }[rng.Next(7)]; break;
                case 3:
                    // A whole 8-byte field (aligned, as ELF64's are) set to an edge value.
                    int f = at & ~7;
                    ulong v = new ulong[] { 0, ulong.MaxValue, (ulong)length, (ulong)length - 8, 0x7FFFFFFF, 0x80000000, 1ul << 63, 4096, 24 }[rng.Next(9)];
                    for (int i = 0; i < 8 && f + i < length; i++) file[f + i] = (byte)(v >> (8 * i));
                    break;
                default:
                    // A 4-byte field (st_name, sh_type, sh_link, r_info halves) set to a small number.
                    int g = at & ~3;
                    uint w = (uint)rng.Next(64);
                    for (int i = 0; i < 4 && g + i < length; i++) file[g + i] = (byte)(w >> (8 * i));
                    break;
            }
        }
    }

    static Outcome Run(List<byte[]> objects, int iterations, int seed, bool mixed = true)
    {
        var rng = new Random(seed);
        var outcome = new Outcome();
        var structures = new List<List<(int, int)>>();
        int maxLength = 0;
        foreach (var o in objects) { structures.Add(Structures(PatchableElf.Parse(o))); maxLength = Math.Max(maxLength, o.Length); }
        var resolver = new HashResolver { Mixed = mixed };
        var buffer = new byte[maxLength];
        using var input = new GuardedMemory(maxLength);
        using var text = new GuardedMemory(MaxRegion);
        using var ro = new GuardedMemory(MaxRegion);
        using var data = new GuardedMemory(MaxRegion);
        using var template = new GuardedMemory(MaxRegion);
        for (int n = 0; n < iterations; n++)
        {
            int which = rng.Next(objects.Count);
            byte[] o = objects[which];
            Array.Copy(o, buffer, o.Length);
            int length = o.Length;
            Mutate(buffer, length, structures[which], rng);
            if (rng.Next(10) == 0) length = rng.Next(length);
            byte* file = input.WritableAtEnd(length);
            fixed (byte* b = buffer) Buffer.MemoryCopy(b, file, length, length);
            try { Stages(file, length, resolver, outcome, text, ro, data, template); }
            finally
            {
                fixed (byte* b = buffer)
                    if (!new ReadOnlySpan<byte>(b, length).SequenceEqual(new ReadOnlySpan<byte>(file, length)))
                        throw new Xunit.Sdk.XunitException("the loader wrote to its input");
            }
        }
        return outcome;
    }

    static void Stages(byte* file, int length, SymbolResolver resolver, Outcome outcome,
                       GuardedMemory text, GuardedMemory ro, GuardedMemory data, GuardedMemory template)
    {
        {

            if (!ElfRelocatable.TryParse(file, (ulong)length, out var elf, out var error)) { CheckLine(error, "parse", ref outcome.ParseFailed); return; }
            Lookups(elf, file, length, outcome);
            if (!ModuleImageLayout.TryBuild(elf, 4096, out var layout, out error)) { CheckLine(error, "layout", ref outcome.LayoutFailed); return; }
            if (layout.TextMappedSize > MaxRegion || layout.ReadOnlyMappedSize > MaxRegion || layout.DataMappedSize > MaxRegion || layout.PerCpuSize > MaxRegion)
            {
                outcome.TooBig++;
                return;
            }
            var regions = new ModuleImageRegions
            {
                TextAddress = ModuleSources.ImageBase,
                ReadOnlyAddress = ModuleSources.ImageBase + layout.ReadOnlyOffset,
                DataAddress = ModuleSources.ImageBase + layout.DataOffset,
                Text = text.WritableAtEnd((int)layout.TextMappedSize),
                ReadOnly = ro.WritableAtEnd((int)layout.ReadOnlyMappedSize),
                Data = data.WritableAtEnd((int)layout.DataMappedSize),
                PerCpuOffset = ModuleSources.PerCpuOffset,
                PerCpuTemplate = layout.PerCpuSection >= 0 ? template.WritableAtEnd((int)layout.PerCpuSize) : null,
            };
            layout.CopySections(regions);
            layout.CopyPerCpuTemplate(regions.PerCpuTemplate);
            if (!Relocator.Relocate(layout, regions, resolver, out var relocator, out error)) { CheckLine(error, "relocate", ref outcome.RelocateFailed); return; }
            for (int k = 0; k < relocator.UndefinedCount; k++)
                if (relocator.UndefinedSymbol(k) >= elf.SymbolCount) throw new Xunit.Sdk.XunitException("undefined symbol index out of range");
            outcome.Loaded++;
        }
    }

    static Outcome WithDeadline(Func<Outcome> run, TimeSpan deadline)
    {
        Outcome result = null;
        Exception failure = null;
        var thread = new Thread(() =>
        {
            try { result = run(); }
            catch (Exception e) { failure = e; }
        }, 64 << 20) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(deadline), $"the fuzz run did not finish within {deadline.TotalSeconds} s (a loop that does not end?)");
        if (failure != null) throw new Xunit.Sdk.XunitException($"fuzz: {failure.Message}\n{failure.StackTrace}");
        return result;
    }

    [Fact]
    public void MutatedObjectsNeverCrashHangOrPrintMoreThanOneLine()
    {
        var objects = new List<byte[]>
        {
            File.ReadAllBytes(ModuleSources.Gcc("kernel")),
            File.ReadAllBytes(ModuleSources.Gcc("kernel-g")),
            File.ReadAllBytes(ModuleSources.Gcc("pic")),
            File.ReadAllBytes(ModuleSources.Gcc("large")),
            File.ReadAllBytes(ModuleSources.NasmObject()),
            // Modules the build made (C# and C), for their .modinfo and .percy_exports.
            BuiltModules.KmodBytes("hello"),
            BuiltModules.KmodBytes("counter"),
            BuiltModules.KmodBytes("cmod"),
        };
        // Unmutated, each loads with this resolver (so the mutations are what fails).
        foreach (var o in objects)
            Assert.Null(ModuleHarness.Load(o, ModuleSources.ImageBase, ModuleSources.PerCpuOffset, new HashResolver(), out _));
        var watch = Stopwatch.StartNew();
        var outcome = WithDeadline(() => Run(objects, Iterations, Seed), TimeSpan.FromSeconds(120));
        _out.WriteLine($"{Iterations} inputs in {watch.Elapsed.TotalSeconds:F1} s: {outcome}");
        Assert.Equal(Iterations, outcome.ParseFailed + outcome.LayoutFailed + outcome.RelocateFailed + outcome.Loaded + outcome.TooBig);
        // The mutations reach every stage, not just the header check.
        Assert.True(outcome.ParseFailed > Iterations / 10, outcome.ToString());
        Assert.True(outcome.LayoutFailed > 0, outcome.ToString());
        Assert.True(outcome.RelocateFailed > Iterations / 100, outcome.ToString());
        Assert.True(outcome.Loaded > Iterations / 10, outcome.ToString());
        Assert.True(outcome.Named > Iterations / 20 && outcome.Exports > Iterations / 20, outcome.ToString());
    }

    [Fact]
    public void MutatedIlcObjectsNeverCrash()
    {
        string path = Path.Combine(AppContext.BaseDirectory.Substring(0, AppContext.BaseDirectory.IndexOf("/tests/", StringComparison.Ordinal)),
            "kernel/obj/Release/net10.0/linux-x64/native/percy.o");
        Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh kernel first");
        var outcome = WithDeadline(() => Run(new List<byte[]> { File.ReadAllBytes(path) }, IlcIterations, Seed + 1, mixed: false), TimeSpan.FromSeconds(60));
        _out.WriteLine($"{IlcIterations} ILC inputs: {outcome}");
        Assert.True(outcome.Loaded > 0 && outcome.ParseFailed > 0, outcome.ToString());
    }
}
