using System.Globalization;

namespace Percy.Build;

/// <summary>One symbol as <c>objdump -t</c> prints it. <see cref="Section"/> is <c>*UND*</c> for an undefined symbol.</summary>
internal sealed record ElfSymbol(string Name, ulong Value, string Section, ulong Size, bool Global)
{
    public const string UndefinedSection = "*UND*";

    public bool Defined => Section != UndefinedSection;
}

/// <summary>Reads an ELF file's symbol table with <c>objdump -t</c> (binutils, already a build dependency).</summary>
internal static class ElfSymbols
{
    // objdump -t lines: "<value> <7 flag characters> <section>\t<size> <name>"; the first flag
    // is the binding: 'l' local, 'g' global, 'u' unique global, '!' both, ' ' neither
    // (undefined symbols).
    private const int ValueDigits = 16;
    private const int FlagsStart = ValueDigits + 1;
    private const int SectionStart = FlagsStart + 8;

    public static async Task<List<ElfSymbol>> ReadAsync(string file, string step, CancellationToken cancellationToken)
    {
        ToolResult result = await Tool.RunCheckedAsync(
            "objdump",
            ["-t", file],
            $"{step}: objdump -t {Paths.Display(file)}",
            "objdump comes with binutils; run ./build.sh deps",
            cancellationToken);
        return Parse(result.Output);
    }

    public static List<ElfSymbol> Parse(string output)
    {
        var symbols = new List<ElfSymbol>();
        foreach (string line in output.Split('\n'))
        {
            if (line.Length < SectionStart + 1 || !ulong.TryParse(line.AsSpan(0, ValueDigits), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong value))
            {
                continue;
            }

            string[] rest = line[SectionStart..].Split('\t', 2);
            if (rest.Length != 2)
            {
                continue;
            }

            string[] sizeAndName = rest[1].Trim().Split(' ', 2, StringSplitOptions.RemoveEmptyEntries);
            if (sizeAndName.Length != 2 || !ulong.TryParse(sizeAndName[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out ulong size))
            {
                continue;
            }

            char binding = line[FlagsStart];
            symbols.Add(new ElfSymbol(sizeAndName[1].Trim(), value, rest[0].Trim(), size, binding is 'g' or 'u' or '!' || rest[0].Trim() == ElfSymbol.UndefinedSection));
        }

        return symbols;
    }
}
