namespace Percy.Build;

/// <summary>
/// After the link: proves the ELF's .data..percpu agrees with the offsets compiled into the
/// kernel's C#. <c>__per_cpu_start</c> is 0 and <c>__per_cpu_end</c> is the static size, and
/// every <c>per_cpu__*</c> symbol is in .data..percpu at the offset and with the size the
/// generated C# uses — and no per-CPU symbol is there that the C# does not know.
/// </summary>
internal static class PerCpuCheck
{
    public static void Verify(string elf, IReadOnlyList<ElfSymbol> elfSymbols, PerCpuSection section)
    {
        // By name; a later symbol of the same name (a local) replaces an earlier one.
        var symbols = new Dictionary<string, ElfSymbol>(StringComparer.Ordinal);
        foreach (ElfSymbol symbol in elfSymbols)
        {
            symbols[symbol.Name] = symbol;
        }

        var problems = new List<string>();
        Expect(symbols, "__per_cpu_start", 0, null, problems);
        Expect(symbols, "__per_cpu_end", section.Size, null, problems);
        foreach (PerCpuVariable v in section.Variables)
        {
            Expect(symbols, v.Symbol, v.Offset, v.Size, problems);
        }

        var known = section.Variables.Select(v => v.Symbol).ToHashSet(StringComparer.Ordinal);
        foreach (var (name, symbol) in symbols)
        {
            if (symbol.Section == PerCpuGenerator.SectionName && name.StartsWith(PerCpuGenerator.SymbolPrefix, StringComparison.Ordinal) && !known.Contains(name))
            {
                problems.Add($"{name} is in {PerCpuGenerator.SectionName} but no [DefinePerCpu] declaration produced it");
            }
        }

        if (problems.Count > 0)
        {
            throw new BuildException(
                $"kernel: the per-CPU offsets compiled into the C# and the symbols of {Paths.Display(elf)} disagree; check the {PerCpuGenerator.SectionName} lines of kernel/arch/x86_64/linker.ld",
                string.Join("\n", problems));
        }
    }

    private static void Expect(Dictionary<string, ElfSymbol> symbols, string name, ulong value, ulong? size, List<string> problems)
    {
        if (!symbols.TryGetValue(name, out ElfSymbol? symbol))
        {
            problems.Add($"{name}: not in the symbol table");
            return;
        }

        if (symbol.Section != PerCpuGenerator.SectionName)
        {
            problems.Add($"{name}: in section {symbol.Section}, not {PerCpuGenerator.SectionName}");
        }

        if (symbol.Value != value)
        {
            problems.Add($"{name}: at 0x{symbol.Value:x} in the ELF, 0x{value:x} in the C#");
        }

        if (size is { } expected && symbol.Size != expected)
        {
            problems.Add($"{name}: {symbol.Size} bytes in the ELF, {expected} in the C#");
        }
    }
}
