using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// How the loader finds things in a module by name (ElfRelocatable.FindDefinedGlobal for the
// entry points and exports, FindSection for .modinfo and .percy_exports), on the modules
// the build produced, against an independent reading of the same files (ElfFile).
public unsafe class ModuleLookupTests
{
    const string Init = "percy_module_init", Exit = "percy_module_exit";

    static uint FindBytes(ElfRelocatable elf, string name)
    {
        byte[] b = Encoding.ASCII.GetBytes(name);
        fixed (byte* p = b) return elf.FindDefinedGlobal(p, b.Length);
    }

    // Both overloads, which must agree.
    static uint Find(ElfRelocatable elf, string name)
    {
        uint index = elf.FindDefinedGlobal(name);
        Assert.True(index == FindBytes(elf, name), $"{name}: the string and byte overloads disagree");
        return index;
    }

    [Fact]
    public void FindsTheEntryPointsAndExportsOfEveryModule()
    {
        foreach (string module in BuiltModules.Names())
        {
            byte[] file = BuiltModules.KmodBytes(module);
            var independent = ElfFile.Read(BuiltModules.KmodPath(module));
            Assert.Null(ModuleHarness.Parse(file, out var h));
            var defined = independent.SymbolList.Where(s => s.Bind != ElfFile.BindLocal && s.SectionIndex != ElfFile.Undefined).ToList();
            // The build leaves exactly the entry points and the exports global (docs/modules.md).
            Assert.Equal(new[] { Init, Exit }.Concat(independent.Strings(Elf.ExportsSectionName)).Order(),
                         defined.Select(s => s.Name).Order());
            foreach (var symbol in defined)
            {
                uint index = Find(h.Elf, symbol.Name);
                Assert.True(index != 0, $"{module}: {symbol.Name} not found");
                Assert.Equal(symbol.Name, h.SymbolName(index));
                ElfSymbol s = h.Elf.Symbol(index);
                Assert.Equal((symbol.Value, symbol.SectionIndex), (s.Value, (ushort)s.SectionIndex));
            }
            // The entry points are code.
            foreach (string entry in new[] { Init, Exit })
            {
                int section = (int)h.Elf.Symbol(Find(h.Elf, entry)).SectionIndex;
                Assert.True((h.Elf.Section(section).Flags & Elf.SHF_EXECINSTR) != 0, $"{module}: {entry} is not in code");
            }
        }
    }

    [Fact]
    public void UndefinedLocalAndPartialNamesAreNotFound()
    {
        foreach (string module in BuiltModules.Names())
        {
            var independent = ElfFile.Read(BuiltModules.KmodPath(module));
            Assert.Null(ModuleHarness.Parse(BuiltModules.KmodBytes(module), out var h));
            var undefined = independent.SymbolList.Where(s => s.SectionIndex == ElfFile.Undefined && s.Name.Length > 0).ToList();
            Assert.NotEmpty(undefined);                                   // every module calls percy_log at least
            foreach (var symbol in undefined) Assert.True(Find(h.Elf, symbol.Name) == 0, $"{module}: undefined {symbol.Name} found");
            // Defined, but local (and no global of the same name): not a name the loader may use.
            var globals = independent.SymbolList.Where(s => s.Bind != ElfFile.BindLocal).Select(s => s.Name).ToHashSet();
            var locals = independent.SymbolList.Where(s => s.Bind == ElfFile.BindLocal && s.SectionIndex != ElfFile.Undefined
                                                           && s.Name.Length > 0 && !globals.Contains(s.Name)).ToList();
            Assert.NotEmpty(locals);
            foreach (var symbol in locals) Assert.True(Find(h.Elf, symbol.Name) == 0, $"{module}: local {symbol.Name} found");
            foreach (string partial in new[] { "percy_module_ini", "percy_module_initx", "", "PERCY_MODULE_INIT" })
                Assert.Equal(0u, Find(h.Elf, partial));
        }
    }

    [Fact]
    public void FindsSectionsByTheirWholeName()
    {
        foreach (string module in BuiltModules.Names())
        {
            var independent = ElfFile.Read(BuiltModules.KmodPath(module));
            Assert.Null(ModuleHarness.Parse(BuiltModules.KmodBytes(module), out var h));
            foreach (var section in independent.Sections.Skip(1))
                Assert.Equal(independent.SectionIndex(section.Name), h.Elf.FindSection(section.Name));
            Assert.True(h.Elf.FindSection(Elf.ModInfoSectionName) > 0, $"{module} has no {Elf.ModInfoSectionName}");
            foreach (string absent in new[] { ".modinf", ".modinfox", ".no_such_section", "" })
                Assert.Equal(-1, h.Elf.FindSection(absent));
        }
    }
}
