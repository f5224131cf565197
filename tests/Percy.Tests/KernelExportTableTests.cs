using System;
using System.IO;
using System.Linq;
using System.Text;
using Percy.Kernel.Modules;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests;

// kernel/modules/KernelExportTable.cs: every index below Count is an entry, names are
// unique, Find is exact, and percy.elf defines each name (but the loader's, still to come).
public class KernelExportTableTests
{
    [Fact]
    public void CountIsTheNumberOfEntries()
    {
        for (int i = 0; i < KernelExportTable.Count; i++) Assert.True(KernelExportTable.At(i).IsValid, $"entry {i} is missing");
        Assert.False(KernelExportTable.At(KernelExportTable.Count).IsValid);
        Assert.False(KernelExportTable.At(-1).IsValid);
        var names = Enumerable.Range(0, KernelExportTable.Count).Select(i => KernelExportTable.At(i).Name).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
    }

    [Theory]
    [InlineData("percy_log", true)]
    [InlineData("percy_lo", false)]
    [InlineData("percy_logx", false)]
    [InlineData("RhpNewFast", true)]
    [InlineData("per_cpu__Percy_Kernel_Percpu_PerCpuExamples__Magic", true)]
    [InlineData("Panic", false)]
    public unsafe void FindMatchesWholeNamesOnly(string name, bool exported)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(name);
        fixed (byte* p = bytes)
        {
            int index = KernelExportTable.Find(p, bytes.Length);
            Assert.Equal(exported, index >= 0);
            if (exported) Assert.Equal(name, KernelExportTable.At(index).Name);
        }
    }

    [Fact]
    public void TheKernelDefinesEveryExport()
    {
        string root = AppContext.BaseDirectory;
        while (root != null && !File.Exists(Path.Combine(root, "build.sh"))) root = Path.GetDirectoryName(root);
        string path = Path.Combine(root, "iso", "out", "percy.elf");
        Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh kernel first");
        ElfFile elf = ElfFile.Read(path);
        for (int i = 0; i < KernelExportTable.Count; i++)
        {
            KernelExport export = KernelExportTable.At(i);
            Assert.True(elf.Symbols.TryGetValue(export.Name, out ElfFile.Symbol symbol) && symbol.Bind == ElfFile.BindGlobal,
                $"{export.Name} is not a global symbol of percy.elf");
            string section = elf.SectionOf(symbol);
            switch (export.Kind)
            {
                case KernelExportKind.Function: Assert.Equal(".text", section); break;
                case KernelExportKind.PerCpu: Assert.Equal(".data..percpu", section); break;
                default: Assert.NotEqual(".text", section); break;
            }
        }
    }
}
