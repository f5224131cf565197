using System.Text;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>Renders iso/grub.cfg and guards what goes into it.</summary>
internal static partial class GrubConfig
{
    public const string CmdlinePlaceholder = "@CMDLINE@";
    public const string ModulesPlaceholder = "@MODULES@";
    public const string ModulesDirectory = "/boot/modules";

    // GRUB's script metacharacters plus quoting and comments: any of them would end the
    // multiboot2 line early, start a new command, or expand a variable.
    private const string ForbiddenCmdlineCharacters = "\"'`\\$;|&<>{}#";

    private const char FirstPrintableAscii = ' ';
    private const char LastPrintableAscii = '~';

    /// <summary>Returns why <paramref name="cmdline"/> cannot go into grub.cfg, or null if it can.</summary>
    public static string? ValidateCmdline(string cmdline)
    {
        foreach (char c in cmdline)
        {
            if (c < FirstPrintableAscii || c > LastPrintableAscii)
            {
                return $"--cmdline contains a non-printable or non-ASCII character (U+{(int)c:X4}); use printable ASCII only";
            }

            if (ForbiddenCmdlineCharacters.Contains(c))
            {
                return $"--cmdline contains '{c}', which grub.cfg cannot carry; use printable ASCII without any of {string.Join(' ', ForbiddenCmdlineCharacters.ToCharArray())}";
            }
        }

        return null;
    }

    /// <summary>Returns why a module file name cannot be used in the ISO, or null if it can.</summary>
    public static string? ValidateModuleName(string name)
        => ModuleNamePattern().IsMatch(name)
            ? null
            : $"--add-module file name '{name}' must use only letters, digits, '.', '_', '+' and '-'";

    /// <summary>Fills the template: the command line in place, one module2 line per module.</summary>
    public static string Render(string template, string cmdline, IReadOnlyList<string> moduleNames)
    {
        RequireSinglePlaceholder(template, CmdlinePlaceholder);
        RequireSinglePlaceholder(template, ModulesPlaceholder);

        var output = new StringBuilder();
        foreach (string rawLine in template.ReplaceLineEndings("\n").Split('\n'))
        {
            string line = rawLine;
            int modules = line.IndexOf(ModulesPlaceholder, StringComparison.Ordinal);
            if (modules >= 0)
            {
                // No modules: the placeholder line disappears rather than leaving a blank.
                string indent = line[..modules];
                foreach (string name in moduleNames)
                {
                    output.Append(indent).Append($"module2 {ModulesDirectory}/{name} {name}").Append('\n');
                }

                continue;
            }

            line = line.Replace(CmdlinePlaceholder, cmdline, StringComparison.Ordinal).TrimEnd();
            output.Append(line).Append('\n');
        }

        return output.ToString().TrimEnd('\n') + "\n";
    }

    private static void RequireSinglePlaceholder(string template, string placeholder)
    {
        int first = template.IndexOf(placeholder, StringComparison.Ordinal);
        if (first < 0 || template.IndexOf(placeholder, first + placeholder.Length, StringComparison.Ordinal) >= 0)
        {
            throw new BuildException($"iso: iso/grub.cfg must contain {placeholder} exactly once; restore it from git");
        }
    }

    [GeneratedRegex("^[A-Za-z0-9._+-]+$")]
    private static partial Regex ModuleNamePattern();
}
