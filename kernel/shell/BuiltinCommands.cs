// The shell's own commands. Subsystems register theirs next to their code.
using Percy.Kernel.Console;

namespace Percy.Kernel.Shell
{
    internal static unsafe class BuiltinCommands
    {
        public static void Register()
        {
            Shell.Register("help", "help", "list the commands", &Help);
            Shell.Register("version", "version", "print the kernel version and build id", &Version);
            Shell.Register("cmdline", "cmdline", "print the kernel command line", &CommandLine);
            Shell.Register("log", "log [-l]", "print the kernel log (-l: with syslog levels)", &ShowLog);
        }

        static void Help(ShellArguments* args)
        {
            if (!Shell.NoArguments(args)) return;
            for (int i = 0; i < Shell.CommandCount; i++)
            {
                ref ShellCommand c = ref Shell.CommandAt(i);
                Console.Console.WriteLine($"{c.Usage,-24} {c.Description}");
            }
        }

        static void Version(ShellArguments* args)
        {
            if (Shell.NoArguments(args)) Console.Console.WriteLine(Boot.Banner);
        }

        static void CommandLine(ShellArguments* args)
        {
            if (!Shell.NoArguments(args)) return;
            Console.Console.Write(Boot.CommandLine, Boot.CommandLineLength);
            Console.Console.Write((byte)'\n');
        }

        static void ShowLog(ShellArguments* args)
        {
            bool levels = args->Count == 2 && args->Is(1, "-l");
            if (args->Count > 2 || (args->Count == 2 && !levels))
            {
                Shell.Error(args, "usage: log [-l]");
                return;
            }
            Log.Dump(levels);
        }
    }
}
