using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The kernel has no garbage collector: after each insmod the loader hands the pure stages'
// objects to Heap.FreeObject through their Release(free). Each must hand over itself and
// every array it owns, each exactly once, whether its stage succeeded or failed; anything
// missed leaks on every insmod (the QEMU tests see that as heap growth), anything handed
// twice corrupts the heap. "Every array it owns" is read from the object's fields, so an
// array field added later is checked without editing this test.
public unsafe class ModuleReleaseTests
{
    // Release's free function must be a static method; tests in a class run one at a time.
    static readonly List<object> s_freed = new();
    static void Record(object o) => s_freed.Add(o);

    static List<object> OwnedArrays(object o)
        => o.GetType().GetFields(BindingFlags.Instance | BindingFlags.NonPublic | BindingFlags.Public)
            .Where(f => f.FieldType.IsArray).Select(f => f.GetValue(o)).Where(v => v != null).ToList();

    static void ReleasesAll(object owner, Action<IntPtr> release)
    {
        var expected = OwnedArrays(owner);
        expected.Add(owner);
        s_freed.Clear();
        delegate*<object, void> free = &Record;
        release((IntPtr)free);
        // A field never set (a stage that failed early) may be handed as null: Heap.FreeObject ignores it.
        var handed = s_freed.Where(o => o != null).ToList();
        foreach (object o in expected)
            Assert.True(handed.Count(h => ReferenceEquals(h, o)) == 1,
                $"{owner.GetType().Name}: {o.GetType().Name} handed {handed.Count(h => ReferenceEquals(h, o))} times, not once");
        Assert.Equal(expected.Count, handed.Count);                      // nothing else
    }

    static void Release(ElfRelocatable e) => ReleasesAll(e, f => e.Release((delegate*<object, void>)f));
    static void Release(ModuleImageLayout l) => ReleasesAll(l, f => l.Release((delegate*<object, void>)f));
    static void Release(Relocator r) => ReleasesAll(r, f => r.Release((delegate*<object, void>)f));

    // Every undefined name resolves (per-CPU ones to an offset), so real modules link.
    sealed class EverythingResolver : SymbolResolver
    {
        public override bool Resolve(byte* name, int length, out ulong value, out bool perCpu)
        {
            perCpu = length > 9 && System.Text.Encoding.ASCII.GetString(name, 9) == "per_cpu__";
            value = perCpu ? ModuleSources.PerCpuOffset : ModuleSources.KernelBase + (ulong)length * 16;
            return true;
        }
    }

    [Fact]
    public void EveryStageOfEveryModuleHandsBackAllItOwns()
    {
        foreach (string module in BuiltModules.Names())
        {
            string error = ModuleHarness.Load(BuiltModules.KmodBytes(module), ModuleSources.ImageBase, ModuleSources.PerCpuOffset,
                                              new EverythingResolver(), out var h);
            Assert.True(error == null, $"{module}: {error}");
            Release(h.Relocator);
            Release(h.Layout);
            Release(h.Elf);
        }
    }

    [Fact]
    public void FailedStagesHandBackAllTheyMade()
    {
        byte[] hello = BuiltModules.KmodBytes("hello");
        var elf = PatchableElf.Parse(hello);

        // The header check fails before the overlap check makes its array.
        Assert.NotNull(ModuleHarness.Parse(hello[..16], out var h));
        Assert.NotNull(h.Elf);
        Release(h.Elf);
        // The overlap check fails after making it.
        int text = elf.SectionIndex(".text");
        byte[] overlapping = PatchableElf.Patch(hello, elf.ShdrOffset(text) + PatchableElf.ShOffsetField, 0, 8);
        Assert.Contains("overlap", ModuleHarness.Parse(overlapping, out h));
        Release(h.Elf);

        // Layout: a section aligned to more than a page.
        byte[] aligned = PatchableElf.Patch(hello, elf.ShdrOffset(text) + 48, 1ul << 20, 8);
        Assert.Contains("larger than a page", ModuleHarness.ParseAndLayOut(aligned, out h));
        Assert.NotNull(h.Layout);
        Release(h.Layout);
        Release(h.Elf);

        // Relocation: nothing resolves.
        Assert.Contains("unknown symbol", ModuleHarness.Load(hello, ModuleSources.ImageBase, ModuleSources.PerCpuOffset,
                                                             new DictionaryResolver(), out h));
        Assert.NotNull(h.Relocator);
        Release(h.Relocator);
        Release(h.Layout);
        Release(h.Elf);
    }
}
