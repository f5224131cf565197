// The serial (and keyboard) shell at `percy> `. Subsystems register their commands;
// the shell reads a line, splits it into words and runs the matching command.
// Every bad input ends in one error line and a new prompt.
using Percy.Kernel.Console;

namespace Percy.Kernel.Shell
{
    internal unsafe struct ShellCommand
    {
        public string Name;
        public string Usage;
        public string Description;
        public delegate*<ShellArguments*, void> Run;
    }

    internal static unsafe class Shell
    {
        public const string Prompt = "percy> ";
        const int MaxCommands = 48;

        static ShellCommand[] s_commands;
        static int s_count;
        static LineEditor s_editor;

        public static void Register(string name, string usage, string description, delegate*<ShellArguments*, void> run)
        {
            if (s_commands == null) s_commands = new ShellCommand[MaxCommands];
            if (s_count == MaxCommands) Panic.Fail("shell: command table full");
            s_commands[s_count].Name = name;
            s_commands[s_count].Usage = usage;
            s_commands[s_count].Description = description;
            s_commands[s_count].Run = run;
            s_count++;
        }

        public static int CommandCount => s_count;
        public static ref ShellCommand CommandAt(int i) => ref s_commands[i];

        public static void Run()
        {
            Console.Console.Write(Prompt);
            for (;;)
            {
                byte b = Input.Read();
                switch (s_editor.Feed(b))
                {
                    case EditResult.Echo:
                        Console.Console.Write(b);
                        break;
                    case EditResult.Erase:
                        Console.Console.Write("\b \b");
                        break;
                    case EditResult.LineDone:
                        Console.Console.Write((byte)'\n');
                        Execute();
                        s_editor.Clear();
                        Console.Console.Write(Prompt);
                        break;
                }
            }
        }

        static void Execute()
        {
            if (s_editor.Overflowed)
            {
                Console.Console.WriteLine($"shell: error: line too long (at most {LineEditor.MaxLength} characters)");
                return;
            }
            byte* line = stackalloc byte[LineEditor.MaxLength];
            s_editor.CopyTo(line);
            if (!ShellArguments.TrySplit(line, s_editor.Length, out ShellArguments args))
            {
                Console.Console.WriteLine($"shell: error: too many words (at most {ShellArguments.MaxWords})");
                return;
            }
            if (args.Count == 0) return;
            for (int i = 0; i < s_count; i++)
            {
                if (args.Is(0, s_commands[i].Name))
                {
                    s_commands[i].Run(&args);
                    return;
                }
            }
            TextLine error = $"shell: error: unknown command '";
            error.AppendBytes(args.Word(0), args.WordLength(0));
            error.AppendLiteral("' (type 'help')");
            Console.Console.WriteLine(error);
        }

        // `<command>: error: <reason>`, the one line every bad argument gets.
        public static void Error(ShellArguments* args, string reason)
        {
            TextLine line = default;
            line.AppendBytes(args->Word(0), args->WordLength(0));
            line.AppendLiteral(": error: ");
            line.AppendLiteral(reason);
            Console.Console.WriteLine(line);
        }

        // For commands without arguments: reports and returns false if any were given.
        public static bool NoArguments(ShellArguments* args)
        {
            if (args->Count == 1) return true;
            Error(args, "takes no arguments");
            return false;
        }
    }
}
