using System.Collections.Generic;
using System.Linq;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// The malformed-module corpus (Support/MalformedModules.cs, also booted by the QEMU test
// ModuleCorpusQemuTests) through the loader's pure stages, on the modules the build made:
// every case fails at the stage it says, with a one-line reason containing its words; the
// cases for the loader's own checks (names, entry points, exports) pass every pure stage, so
// that it is the loader's check the QEMU test sees.
public class ModuleCorpusTests
{
    // The kernel's exports, near the kernel (per-CPU ones as unit offsets), as the kernel's
    // resolver (ModuleSymbols) would give them.
    static DictionaryResolver KernelResolver()
    {
        const ulong Stride = 0x40;
        var r = new DictionaryResolver();
        for (int i = 0; i < KernelExportTable.Count; i++)
        {
            KernelExport x = KernelExportTable.At(i);
            bool perCpu = x.Kind == KernelExportKind.PerCpu;
            r.Add(x.Name, perCpu ? (ulong)i * Stride : ModuleSources.KernelBase + (ulong)i * Stride, perCpu);
        }
        return r;
    }

    static List<MalformedModule> Corpus() =>
        MalformedModules.Build(BuiltModules.KmodBytes("hello"), BuiltModules.KmodBytes("cmod"), BuiltModules.KmodBytes("counter"));

    static CorpusStage? FailedAt(MalformedModule c, out string error)
    {
        error = ModuleHarness.Parse(c.Bytes, out _);
        if (error != null) return CorpusStage.Parse;
        error = ModuleHarness.ParseAndLayOut(c.Bytes, out _);
        if (error != null) return CorpusStage.Layout;
        error = ModuleHarness.Load(c.Bytes, ModuleSources.ImageBase, ModuleSources.PerCpuOffset, KernelResolver(), out _);
        return error != null ? CorpusStage.Relocate : null;
    }

    [Fact]
    public void EveryCaseFailsWhereItSaysWithItsReason()
    {
        var corpus = Corpus();
        var wrong = new List<string>();
        foreach (var c in corpus)
        {
            CorpusStage? stage = FailedAt(c, out string error);
            if (c.Stage == CorpusStage.Loader)
            {
                if (stage != null) wrong.Add($"{c.Name}: the pure stages should accept it (the loader refuses it), but {stage}: {error}");
                continue;
            }
            if (stage != c.Stage || error == null || !c.Explains(error))
                wrong.Add($"{c.Name}: expected {c.Stage} failing with '{c.Reason}', got {(stage?.ToString() ?? "success")}: {error}");
            else
                Assert.True(error.All(ch => ch >= 0x20 && ch < 0x7F) && error.Length <= ElfError.Capacity, $"{c.Name}: not one printable line: {error}");
        }
        Assert.True(wrong.Count == 0, string.Join("\n", wrong));
    }

    [Fact]
    public void TheCorpusCoversWhatIssue7Names()
    {
        var corpus = Corpus();
        // Truncations of both modules at every boundary, and some of everything else.
        Assert.True(corpus.Count(c => c.Name.StartsWith("bad_h_trunc_")) >= 20 && corpus.Count(c => c.Name.StartsWith("bad_c_trunc_")) >= 20);
        foreach (var stage in new[] { CorpusStage.Parse, CorpusStage.Layout, CorpusStage.Relocate, CorpusStage.Loader })
            Assert.Contains(corpus, c => c.Stage == stage);
        foreach (string reason in new[] { "bad magic", "EI_CLASS", "e_machine", "e_type", "past the end of the file", "overlap in the file",
                                          "outside the string table", "unsupported relocation type", "past the end of the symbol table",
                                          "does not fit in 32 bits", "unknown symbol", "already loaded", "no name=", "which it does not define",
                                          "which the kernel exports", "which counter already exports", "no percy_module_init" })
            Assert.Contains(corpus, c => c.Reason.Contains(reason, System.StringComparison.Ordinal));
        // A C module's 32S relocation overflows too.
        Assert.Contains(corpus, c => c.Name == "bad_c_abs32s_overflow");
    }
}
