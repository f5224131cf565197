using Percy.Kernel.Modules;

namespace Percy.Build;

/// <summary>
/// After the link: every name in kernel/modules/KernelExportTable.cs is a global symbol of
/// percy.elf of its kind — a function in .text, a data object outside it, a per-CPU variable
/// in .data..percpu — so the loader never promises a module a symbol the kernel lacks.
/// </summary>
internal static class KernelExportCheck
{
    private const string TextSection = ".text";
    private const string TableSource = "kernel/modules/KernelExportTable.cs";

    public static void Verify(string elf, IReadOnlyList<ElfSymbol> elfSymbols)
    {
        var globals = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
        foreach (ElfSymbol symbol in elfSymbols.Where(s => s.Global && s.Defined))
        {
            globals[symbol.Name] = symbol;
        }

        var problems = new List<string>();
        foreach (KernelExport export in Exports())
        {
            if (!globals.TryGetValue(export.Name, out ElfSymbol? symbol))
            {
                problems.Add($"{export.Name}: not a global symbol of the kernel");
                continue;
            }

            string? wrongPlace = export.Kind switch
            {
                KernelExportKind.Function when symbol.Section != TextSection => $"in {symbol.Section}, not {TextSection}",
                KernelExportKind.Data when symbol.Section is TextSection or PerCpuGenerator.SectionName => $"in {symbol.Section}, not a data section",
                KernelExportKind.PerCpu when symbol.Section != PerCpuGenerator.SectionName => $"in {symbol.Section}, not {PerCpuGenerator.SectionName}",
                _ => null,
            };
            if (wrongPlace is not null)
            {
                problems.Add($"{export.Name} ({export.Kind}): {wrongPlace}");
            }
        }

        if (problems.Count > 0)
        {
            throw new BuildException(
                $"kernel: {TableSource} exports symbols {Paths.Display(elf)} does not define as listed; fix the table or the kernel",
                string.Join("\n", problems));
        }
    }

    /// <summary>The table's entries, in order.</summary>
    public static IEnumerable<KernelExport> Exports()
        => Enumerable.Range(0, KernelExportTable.Count).Select(KernelExportTable.At);
}
