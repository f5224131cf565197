using System;
using System.Collections.Generic;
using System.Linq;
using System.Text;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The loader's reader of .modinfo and .percy_exports (kernel/modules/ModuleStrings.cs):
// on the modules the build produced, checked against the independent reader (ElfFile),
// and on synthetic section contents (padding, a missing last NUL, keys that are prefixes
// of others), each placed at the very end of the file right before a guard page, so a
// read past the section kills the test host.
public unsafe class ModuleStringsTests
{
    const string Info = Elf.ModInfoSectionName, Exports = Elf.ExportsSectionName;

    // What the reader sees in one section of a file, and its answer for each key.
    sealed record Reading(List<string> Strings, Dictionary<string, string> Values);

    static Reading Read(byte[] file, string section, params string[] keys)
    {
        using var memory = new GuardedMemory(file.Length);
        byte* data = memory.PlaceAtEnd(file);
        Assert.True(ElfRelocatable.TryParse(data, (ulong)file.Length, out ElfRelocatable elf, out ElfError error), ModuleHarness.Text(error));
        ModuleStrings strings = ModuleStrings.Of(elf, section);
        var all = new List<string>();
        ulong cursor = 0;
        while (strings.Next(ref cursor, out byte* text, out int length)) all.Add(Encoding.ASCII.GetString(text, length));
        Assert.False(strings.Next(ref cursor, out _, out _));          // stays at the end
        var values = new Dictionary<string, string>();
        foreach (string key in keys)
            if (strings.TryGet(key, out byte* value, out int n)) values[key] = Encoding.ASCII.GetString(value, n);
        return new Reading(all, values);
    }

    // hello.kmod with `contents` as its .modinfo (the last bytes of the file).
    static Reading Synthetic(string contents, params string[] keys)
    {
        var hello = PatchableElf.Parse(BuiltModules.KmodBytes("hello"));
        return Read(hello.WithSectionContents(Info, Encoding.ASCII.GetBytes(contents)), Info, keys);
    }

    [Fact]
    public void EveryBuiltModuleIsNamedAfterItsFolder()
    {
        foreach (string name in BuiltModules.Names())
        {
            byte[] file = BuiltModules.KmodBytes(name);
            var r = Read(file, Info, "name");
            Assert.Equal(name, r.Values["name"]);
            // The same strings as an independent reader finds, in the same order.
            Assert.Equal(ElfFile.Read(BuiltModules.KmodPath(name)).Strings(Info), r.Strings);
            Assert.Contains("license=MIT", r.Strings);
        }
    }

    [Fact]
    public void RefholdDescribesItsParameters()
    {
        var r = Read(BuiltModules.KmodBytes("refhold"), Info, "parm", "parmtype", "author");
        Assert.Equal(new[]
        {
            "parm=target:module whose references are taken",
            "parmtype=target:string",
            "parm=gets:references each online CPU takes",
            "parmtype=gets:int",
            "parm=hold:keep the references until this module is unloaded",
            "parmtype=hold:bool",
            "parm=put_cpu:CPU that releases every reference (-1: the CPU that took it)",
            "parmtype=put_cpu:int",
        }, r.Strings.Where(s => s.StartsWith("parm", StringComparison.Ordinal)));
        // TryGet answers the first string with the key.
        Assert.Equal("target:module whose references are taken", r.Values["parm"]);
        Assert.Equal("target:string", r.Values["parmtype"]);
        Assert.Equal("Percy", r.Values["author"]);
    }

    [Fact]
    public void ExportsListWhatTheModuleDefines()
    {
        var expected = new Dictionary<string, string[]>
        {
            ["counter"] = new[] { "counter_this_cpu_inc", "counter_sum", "per_cpu__Percy_Modules_Counter_CounterModule__Hits" },
            ["cmod"] = new[] { "per_cpu__cmod_calls", "cmod_total" },
        };
        foreach (string name in BuiltModules.Names())
        {
            byte[] file = BuiltModules.KmodBytes(name);
            var r = Read(file, Exports);
            Assert.Equal(expected.GetValueOrDefault(name, Array.Empty<string>()), r.Strings);
            // Each is a global the module defines (the loader refuses the module otherwise).
            Assert.Null(ModuleHarness.Parse(file, out var h));
            foreach (string export in r.Strings) Assert.NotEqual(0u, h.Elf.FindDefinedGlobal(export));
        }
    }

    [Fact]
    public void EmptyStringsArePaddingAndALastStringMayLackItsNul()
    {
        Assert.Equal(new[] { "name=a", "license=MIT" }, Synthetic("\0\0\0name=a\0\0\0\0license=MIT\0\0\0").Strings);
        var unterminated = Synthetic("name=a\0license=MIT", "license");
        Assert.Equal(new[] { "name=a", "license=MIT" }, unterminated.Strings);
        Assert.Equal("MIT", unterminated.Values["license"]);
        Assert.Equal(new[] { "x" }, Synthetic("x").Strings);
        Assert.Empty(Synthetic("\0\0\0\0").Strings);
        Assert.Empty(Synthetic("", "name").Strings);
        Assert.Empty(Synthetic("", "name").Values);
    }

    [Fact]
    public void TryGetMatchesTheWholeKeyAndTheFirstString()
    {
        var r = Synthetic("names=no\0nam=no\0name\0name=\0name=second\0xname=no\0", "name", "nam", "names", "nam", "n", "name=");
        Assert.Equal("", r.Values["name"]);                      // `name=` comes first: an empty value
        Assert.Equal("no", r.Values["nam"]);
        Assert.Equal("no", r.Values["names"]);
        Assert.False(r.Values.ContainsKey("n"));                  // only a prefix of keys
        Assert.False(r.Values.ContainsKey("name="));              // no string `name==...`
        Assert.Equal("second", Synthetic("author=x\0name\0name=second", "name").Values["name"]);
        Assert.Equal("a=b=c", Synthetic("key=a=b=c", "key").Values["key"]);
    }

    [Fact]
    public void AMissingOrEmptySectionHasNoStrings()
    {
        // hello's .percy_exports is empty; a section that is not there reads as empty.
        var hello = Read(BuiltModules.KmodBytes("hello"), Exports);
        Assert.Empty(hello.Strings);
        Assert.Empty(Read(BuiltModules.KmodBytes("hello"), ".no_such_section", "name").Values);
        // A NOBITS section has no file bytes to read.
        var elf = PatchableElf.Parse(BuiltModules.KmodBytes("hello"));
        byte[] nobits = PatchableElf.Patch(elf.Bytes, elf.ShdrOffset(elf.SectionIndex(Info)) + 4, Elf.SHT_NOBITS, 4);
        Assert.Empty(Read(nobits, Info, "name").Values);
    }
}
