using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The modules ./build.sh modules produced (iso/out/modules/*.kmod), read as the loader will
// read them: x86-64 relocatable objects whose undefined symbols are all kernel exports
// (kernel/modules/KernelExportTable.cs) or exports of another module, whose global
// definitions are exactly the entry points and the exports, with the sections, per-CPU
// data and metadata of docs/modules.md. The build checks much of this too; this reads the
// files themselves.
public class ModuleObjectTests
{
    const string PerCpuSection = ".data..percpu";
    const string InfoSection = ".modinfo";
    const string ExportsSection = ".percy_exports";
    const string Init = "percy_module_init", Exit = "percy_module_exit";
    const int BigArrayBytes = 4200 * sizeof(int);       // seed 002: int bigarray[4200]

    static List<string> ModuleNames() => BuiltModules.Names();

    static ElfFile Module(string name) => ElfFile.Read(BuiltModules.RequireKmod(name));

    static Dictionary<string, ElfFile> AllModules() => ModuleNames().ToDictionary(n => n, Module);

    static HashSet<string> KernelExports()
        => Enumerable.Range(0, KernelExportTable.Count).Select(i => KernelExportTable.At(i).Name).ToHashSet(StringComparer.Ordinal);

    static IEnumerable<ElfFile.Symbol> Undefined(ElfFile elf) => elf.SymbolList.Where(s => s.SectionIndex == ElfFile.Undefined && s.Name.Length > 0);

    [Fact]
    public void TheSamplesAreThere()
    {
        Assert.Superset(new HashSet<string> { "hello", "counter", "counter_user", "bigarray", "refhold", "cmod" }, ModuleNames().ToHashSet());
        foreach (string name in ModuleNames()) Module(name);
    }

    [Fact]
    public void EveryModuleIsAnX86_64RelocatableObject()
    {
        foreach (var (name, elf) in AllModules())
        {
            Assert.True(elf.Type == ElfFile.Relocatable, $"{name}.kmod: e_type {elf.Type}, not ET_REL");
            Assert.True(elf.Machine == ElfFile.MachineX86_64, $"{name}.kmod: e_machine {elf.Machine}, not x86-64");
            Assert.DoesNotContain(elf.Sections, s => (s.Flags & ElfFile.FlagTls) != 0);
            // Unwind data is dropped (modules/sdk/module.ld); every allocated section is at 0.
            Assert.Null(elf.Find(".eh_frame"));
            Assert.All(elf.Sections, s => Assert.Equal(0ul, s.Addr));
        }
    }

    [Fact]
    public void UndefinedSymbolsAreKernelExportsOrAnotherModulesExports()
    {
        HashSet<string> kernel = KernelExports();
        Dictionary<string, ElfFile> modules = AllModules();
        foreach (var (name, elf) in modules)
        {
            foreach (ElfFile.Symbol needed in Undefined(elf))
            {
                bool fromKernel = kernel.Contains(needed.Name);
                var exporters = modules.Where(m => m.Key != name && m.Value.Strings(ExportsSection).Contains(needed.Name)).Select(m => m.Key).ToList();
                Assert.True(fromKernel || exporters.Count == 1,
                    $"{name}.kmod needs {needed.Name}: not in KernelExportTable and exported by {exporters.Count} other modules");
            }
        }
    }

    [Fact]
    public void CounterUserNeedsExactlyWhatCounterExports()
    {
        HashSet<string> kernel = KernelExports();
        var needed = Undefined(Module("counter_user")).Select(s => s.Name).Where(n => !kernel.Contains(n)).ToHashSet();
        var counterExports = Module("counter").Strings(ExportsSection).ToHashSet();
        Assert.Equal(new HashSet<string> { "counter_this_cpu_inc", "counter_sum", "per_cpu__Percy_Modules_Counter_CounterModule__Hits" }, counterExports);
        Assert.Equal(counterExports, needed);
    }

    [Fact]
    public void GlobalDefinitionsAreTheEntryPointsAndTheExports()
    {
        foreach (var (name, elf) in AllModules())
        {
            var globals = elf.SymbolList.Where(s => s.Bind == ElfFile.BindGlobal && s.SectionIndex != ElfFile.Undefined).ToList();
            var expected = new HashSet<string>(elf.Strings(ExportsSection)) { Init, Exit };
            Assert.Equal(expected, globals.Select(s => s.Name).ToHashSet());
            foreach (ElfFile.Symbol symbol in globals)
            {
                // Functions in .text; per-CPU variables, and only they, in .data..percpu.
                string section = elf.SectionOf(symbol);
                bool percpu = symbol.Name.StartsWith("per_cpu__", StringComparison.Ordinal);
                Assert.True(percpu ? section == PerCpuSection : section == ".text", $"{name}.kmod: {symbol.Name} is in {section}");
            }
        }
    }

    [Fact]
    public void ModinfoNamesTheModuleAndDescribesIt()
    {
        foreach (var (name, elf) in AllModules())
        {
            IReadOnlyList<string> info = elf.Strings(InfoSection);
            Assert.Contains($"name={name}", info);
            Assert.Contains(info, i => i.StartsWith("description=", StringComparison.Ordinal));
            Assert.Contains(info, i => i.StartsWith("license=", StringComparison.Ordinal));
            // Read from the file, never loaded.
            Assert.Equal(0ul, elf.Find(InfoSection).Flags & ElfFile.FlagAlloc);
        }

        IReadOnlyList<string> refhold = Module("refhold").Strings(InfoSection);
        Assert.Contains("parmtype=target:string", refhold);
        Assert.Contains("parmtype=gets:int", refhold);
        Assert.Contains("parmtype=hold:bool", refhold);
        Assert.Contains("parmtype=put_cpu:int", refhold);
    }

    [Fact]
    public void BigArrayHasItsSixteenThousandEightHundredBytesPerCpu()
    {
        ElfFile elf = Module("bigarray");
        ElfFile.Section percpu = elf.Find(PerCpuSection);
        Assert.NotNull(percpu);
        Assert.Equal((ulong)BigArrayBytes, percpu.Size);
        ElfFile.Symbol array = elf.Symbols["per_cpu__Percy_Modules_BigArray_BigArrayModule__BigArray"];
        Assert.Equal((ulong)BigArrayBytes, array.Size);
        Assert.Equal(0ul, array.Value);
        Assert.Equal(ElfFile.FlagAlloc | ElfFile.FlagWrite, percpu.Flags & (ElfFile.FlagAlloc | ElfFile.FlagWrite | ElfFile.FlagExec));
    }

    [Fact]
    public void ModulesWithoutPerCpuDataHaveNoPerCpuSection()
    {
        Assert.Null(Module("hello").Find(PerCpuSection));
        Assert.Null(Module("counter_user").Find(PerCpuSection));    // it only uses counter's
    }

    // The offsets table PerCpuModule.Bind reads: R_X86_64_64 entries the loader fills with
    // per-CPU offsets — of the module's own section, and of each declared variable.
    [Fact]
    public void PerCpuOffsetsAreLoadTimeRelocations()
    {
        List<ElfFile.Relocation> counter = Module("counter").RelocationsOf(".rodata");
        Assert.Contains(counter, r => r.Type == ElfFile.R_X86_64_64 && r.Symbol.Type == 3 && r.Symbol.SectionIndex == Module("counter").SectionIndex(PerCpuSection) && r.Addend == 0);
        List<ElfFile.Relocation> user = Module("counter_user").RelocationsOf(".rodata");
        Assert.Contains(user, r => r.Type == ElfFile.R_X86_64_64 && r.Symbol.Name == "per_cpu__Percy_Modules_Counter_CounterModule__Hits");
    }

    // counter_this_cpu_inc is `Hits++` on this CPU: load the module's per-CPU base (a
    // RIP-relative load of PerCpuModule.SectionLocal), increment through it, return.
    [Fact]
    public void ThisCpuIncrementIsOneLoadAndOneIncrement()
    {
        ElfFile elf = Module("counter");
        ElfFile.Symbol inc = elf.Symbols["counter_this_cpu_inc"];
        ElfFile.Section text = elf.Sections[inc.SectionIndex];
        byte[] code = elf.Contents(text).Slice((int)inc.Value, 11).ToArray();
        Assert.Equal(new byte[] { 0x48, 0x8B, 0x05 }, code[..3]);           // mov rax, [rip + disp32]
        Assert.Equal(new byte[] { 0x48, 0xFF, 0x00, 0xC3 }, code[7..]);      // inc qword [rax]; ret
        ElfFile.Relocation base_ = Assert.Single(elf.RelocationsOf(".text"), r => r.Offset == inc.Value + 3);
        Assert.Contains(base_.Type, new[] { ElfFile.R_X86_64_PC32, ElfFile.R_X86_64_PLT32 });
    }
}
