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

    private static readonly Regex ModuleLine =
        new(@"^(?<lead>\s*)module2[ \t]+\S+(?:[ \t]+(?<name>\S+))?", RegexOptions.CultureInvariant);

    /// <summary>The file names the ISO build allows for boot modules (build/GrubConfig.cs).</summary>
    public static readonly Regex ModuleFileName = new(@"^[A-Za-z0-9._+-]+$", RegexOptions.CultureInvariant);

    /// <summary>Where the ISO build puts boot modules.</summary>
    public const string ModulesDirectory = "/boot/modules";

    /// <summary>
    /// Returns <paramref name="grubCfg"/> with one <c>module2 /boot/modules/NAME NAME</c> line
    /// per name (the way <c>./build.sh iso --add-module</c> writes them), after the last
    /// module2 line, else after the multiboot2 line, with the same indentation. Throws
    /// <see cref="ArgumentException"/> for a name the build would refuse, a name twice, or a
    /// name the configuration already loads.
    /// </summary>
    public static string WithModules(string grubCfg, IEnumerable<string> names)
    {
        ArgumentNullException.ThrowIfNull(grubCfg);
        ArgumentNullException.ThrowIfNull(names);
        var lines = grubCfg.Split('\n').ToList();
        var existing = new HashSet<string>(StringComparer.Ordinal);
        int after = -1;
        string lead = "", cr = "";
        for (int i = 0; i < lines.Count; i++)
        {
            var body = lines[i].TrimEnd('\r');
            var module = ModuleLine.Match(body);
            if (module.Success)
            {
                if (module.Groups["name"].Success) existing.Add(module.Groups["name"].Value);
                (after, lead, cr) = (i, module.Groups["lead"].Value, lines[i].EndsWith('\r') ? "\r" : "");
            }
            else if (after < 0 && KernelLine.Match(body) is { Success: true } kernel)
            {
                (after, lead, cr) = (i, kernel.Groups["lead"].Value, lines[i].EndsWith('\r') ? "\r" : "");
            }
        }
        if (after < 0)
            throw new ArgumentException("grub.cfg has no 'multiboot2 <kernel>' line to put modules after");
        var added = new List<string>();
        foreach (var name in names)
        {
            if (!ModuleFileName.IsMatch(name))
                throw new ArgumentException($"module file name '{name}' must use only letters, digits, '.', '_', '+' and '-'");
            if (!existing.Add(name))
                throw new ArgumentException($"grub.cfg already loads a module named '{name}'");
            added.Add($"{lead}module2 {ModulesDirectory}/{name} {name}{cr}");
        }
        lines.InsertRange(after + 1, added);
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
