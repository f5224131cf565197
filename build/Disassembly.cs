using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>One function's disassembly (objdump -dr) and how many of its instructions do the work.</summary>
internal sealed record FunctionDisassembly(string File, string Symbol, IReadOnlyList<string> Lines, int Instructions, IReadOnlyList<string> Counted);

/// <summary>
/// Counts the instructions of a function body in `objdump -dr` output. The rule, the same for
/// Percy and Linux: every instruction from the symbol up to its first return counts, except
/// the return itself (`ret`, or Linux's `jmp __x86_return_thunk`, a retpoline-era return),
/// Linux's ftrace hook (`call __fentry__`, patched to a 5-byte NOP at load), CET landing
/// pads (`endbr64`) and padding (`nop`, `int3`). Nothing after the first return counts: it
/// is alignment padding up to the next function.
/// </summary>
internal static partial class Disassembly
{
    private static readonly string[] s_notCounted = ["nop", "int3", "endbr64"];
    private static readonly string[] s_hookTargets = ["__fentry__"];
    private static readonly string[] s_returnTargets = ["__x86_return_thunk"];

    public static async Task<FunctionDisassembly> OfAsync(string file, string symbol, CancellationToken cancellationToken)
    {
        ToolResult objdump = await Tool.RunAsync("objdump", ["-dr", "--no-show-raw-insn", $"--disassemble={symbol}", file], cancellationToken);
        if (!objdump.Succeeded)
        {
            throw new BuildException($"bench: objdump -d {Paths.Display(file)} failed (exit {objdump.ExitCode}); install binutils (./build.sh deps)", objdump.Output);
        }

        return Count(Paths.Display(file), symbol, objdump.Output);
    }

    /// <summary>Counts <paramref name="symbol"/>'s body in objdump's text (pure, for tests and the report).</summary>
    public static FunctionDisassembly Count(string file, string symbol, string objdumpText)
    {
        string[] all = objdumpText.Split('\n');
        int start = Array.FindIndex(all, l => l.EndsWith($"<{symbol}>:", StringComparison.Ordinal));
        if (start < 0)
        {
            throw new BuildException($"bench: objdump found no function {symbol} in {file}; was it renamed? (the benchmark counts its instructions)");
        }

        // Instructions with the relocation lines that follow them (-r prints those below).
        // --disassemble=SYMBOL also prints relocations of the bytes before SYMBOL; a relocation
        // belongs to an instruction only at or after its address, so earlier ones are dropped.
        var body = new List<(string Text, string Mnemonic, List<string> Relocations)>();
        var lines = new List<string> { all[start] };
        ulong address = 0;
        for (int i = start + 1; i < all.Length && all[i].Trim().Length > 0; i++)
        {
            string line = all[i].TrimEnd();
            if (RelocationPattern().Match(line) is { Success: true } relocation)
            {
                if (body.Count > 0 && Convert.ToUInt64(relocation.Groups["offset"].Value, 16) >= address)
                {
                    body[^1].Relocations.Add(relocation.Groups["target"].Value);
                    lines.Add(line);
                }
            }
            else if (InstructionPattern().Match(line) is { Success: true } instruction)
            {
                address = Convert.ToUInt64(instruction.Groups["address"].Value, 16);
                body.Add((instruction.Groups["text"].Value.Trim(), instruction.Groups["mnemonic"].Value, []));
                lines.Add(line);
            }
            else
            {
                lines.Add(line);
            }
        }

        var counted = new List<string>();
        foreach ((string text, string mnemonic, List<string> relocations) in body)
        {
            bool isReturn = mnemonic.StartsWith("ret", StringComparison.Ordinal)
                || mnemonic == "jmp" && relocations.Any(r => s_returnTargets.Any(t => r.StartsWith(t, StringComparison.Ordinal)));
            if (isReturn)
            {
                break;
            }

            bool isHook = mnemonic == "call" && relocations.Any(r => s_hookTargets.Any(t => r.StartsWith(t, StringComparison.Ordinal)));
            bool isPadding = s_notCounted.Any(p => mnemonic.StartsWith(p, StringComparison.Ordinal));
            if (!isHook && !isPadding)
            {
                counted.Add(text);
            }
        }

        return new FunctionDisassembly(file, symbol, lines, counted.Count, counted);
    }

    // "  20:\tmov    %edi,%eax" (with --no-show-raw-insn); prefixes such as "lock" or "data16" stay in the text.
    [GeneratedRegex(@"^\s*(?<address>[0-9a-f]+):\s+(?<text>(?:(?:lock|rep|repz|repnz|data16|cs|ds|es|fs|gs|ss|notrack|bnd)\s+)*(?<mnemonic>[a-z][a-z0-9.]*).*)$")]
    private static partial Regex InstructionPattern();

    // "\t\t\t21: R_X86_64_PLT32\t__fentry__-0x4"
    [GeneratedRegex(@"^\s*(?<offset>[0-9a-f]+): R_[A-Z0-9_]+\s+(?<target>\S+)")]
    private static partial Regex RelocationPattern();
}
