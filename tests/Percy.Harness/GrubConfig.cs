using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Harness;

/// <summary>Edits a grub.cfg: pure logic, used to make ISO variants with another kernel command line.</summary>
public static class GrubConfig
{
    private static readonly Regex KernelLine =
        new(@"^(?<lead>\s*)(?<cmd>multiboot2|multiboot)(?<sp>[ \t]+)(?<path>\S+)(?<args>.*)$", RegexOptions.CultureInvariant);

    /// <summary>
    /// Returns <paramref name="grubCfg"/> with the arguments of every "multiboot2 /path ..."
    /// line replaced by <paramref name="cmdline"/> (quoted for GRUB where needed).
    /// Throws <see cref="ArgumentException"/> if there is no such line.
    /// </summary>
    public static string WithCmdline(string grubCfg, string cmdline)
    {
        ArgumentNullException.ThrowIfNull(grubCfg);
        ArgumentNullException.ThrowIfNull(cmdline);
        if (cmdline.IndexOfAny(new[] { '\n', '\r', '\0' }) >= 0)
            throw new ArgumentException("a kernel command line cannot contain newlines or NUL", nameof(cmdline));

        var quoted = QuoteArgs(cmdline);
        var lines = grubCfg.Split('\n');
        int replaced = 0;
        for (int i = 0; i < lines.Length; i++)
        {
            var cr = lines[i].EndsWith('\r') ? "\r" : "";
            var body = cr.Length > 0 ? lines[i][..^1] : lines[i];
            var m = KernelLine.Match(body);
            if (!m.Success) continue;
            lines[i] = m.Groups["lead"].Value + m.Groups["cmd"].Value + " " + m.Groups["path"].Value +
                       (quoted.Length > 0 ? " " + quoted : "") + cr;
            replaced++;
        }
        if (replaced == 0)
            throw new ArgumentException("grub.cfg has no 'multiboot2 <kernel> ...' line to put a command line on");
        return string.Join('\n', lines);
    }

    /// <summary>
    /// Splits on whitespace and single-quotes every word GRUB's script lexer would change
    /// ($, quotes, backslashes, ;, braces...), so the kernel receives the words unchanged.
    /// </summary>
    public static string QuoteArgs(string cmdline)
    {
        var words = cmdline.Split(new[] { ' ', '\t' }, StringSplitOptions.RemoveEmptyEntries);
        var sb = new StringBuilder();
        foreach (var w in words)
        {
            if (sb.Length > 0) sb.Append(' ');
            if (w.All(c => char.IsAsciiLetterOrDigit(c) || "_-.,=:/+@%".Contains(c))) sb.Append(w);
            else sb.Append('\'').Append(w.Replace("'", "'\\''")).Append('\'');
        }
        return sb.ToString();
    }
}
