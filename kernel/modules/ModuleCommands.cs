// Shell: insmod, rmmod, lsmod, modinfo. Module files are the ISO's boot modules: `insmod
// hello` loads the boot module named hello.kmod (./build.sh iso packs every module the
// tree builds, and --add-module FILE adds more). Every failure is one line,
// `<command>: NAME: error: <reason>`, and changes nothing.
using Percy.Kernel.Multiboot;
using Percy.Kernel.Shell;

namespace Percy.Kernel.Modules
{
    internal static unsafe class ModuleCommands
    {
        const string FileSuffix = ".kmod";
        const string WaitOption = "--wait";

        public static void Register()
        {
            Shell.Shell.Register("insmod", "insmod NAME [key=value ...]", "load module NAME (the boot module NAME.kmod) with parameters", &Insmod);
            Shell.Shell.Register("rmmod", "rmmod [--wait] NAME", "unload a module; --wait: wait until its reference count is 0", &Rmmod);
            Shell.Shell.Register("lsmod", "lsmod", "loaded modules: image and per-CPU bytes, references, dependencies", &Lsmod);
            Shell.Shell.Register("modinfo", "modinfo NAME", "the .modinfo of NAME.kmod", &Modinfo);
        }

        static void Insmod(ShellArguments* args)
        {
            if (args->Count < 2)
            {
                Shell.Shell.Error(args, "usage: insmod NAME [key=value ...]");
                return;
            }
            if (!FindFile(args, 1, out byte* file, out ulong length)) return;
            // The parameters: the line's text from the first one to the end.
            byte* parameters = args->Count > 2 ? args->Word(2) : null;
            int parametersLength = args->Count > 2 ? (int)(args->Word(args->Count - 1) + args->WordLength(args->Count - 1) - parameters) : 0;
            Module m = ModuleLoader.Load(file, length, parameters, parametersLength, out ElfError error);
            if (m == null)
            {
                Fail(args, 1, error);
                return;
            }
            TextLine line = $"insmod: ";
            m.Name.AppendTo(ref line);
            line.AppendLiteral(" loaded");
            Console.Console.WriteLine(line);
        }

        static void Rmmod(ShellArguments* args)
        {
            bool wait = args->Count == 3 && args->Is(1, WaitOption);
            if (args->Count != 2 && !wait || args->Count == 2 && args->Is(1, WaitOption))
            {
                Shell.Shell.Error(args, "usage: rmmod [--wait] NAME");
                return;
            }
            int n = args->Count - 1;
            Module m = ModuleList.Find(args->Word(n), args->WordLength(n));
            ElfError error = default;
            if (m == null) error.Fail($"not loaded (lsmod lists the loaded modules)");
            else if (ModuleLoader.Unload(m, wait ? &Waiting : null, out error))
            {
                TextLine line = $"rmmod: ";
                line.AppendBytes(args->Word(n), args->WordLength(n));
                line.AppendLiteral(" unloaded");
                Console.Console.WriteLine(line);
                return;
            }
            Fail(args, n, error);
        }

        static void Waiting(Module m, long count)
        {
            TextLine line = $"rmmod: ";
            m.Name.AppendTo(ref line);
            line.AppendFormatted($": waiting for refcnt={count} to reach 0 (Ctrl-C gives up)");
            Console.Console.WriteLine(line);
        }

        // NAME core=<image bytes> percpu=<per-CPU bytes, per CPU> refcnt=<n> deps=<a,b or ->
        static void Lsmod(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            if (ModuleList.Count == 0) Console.Console.WriteLine("lsmod: no modules loaded");
            for (Module m = ModuleList.First; m != null; m = m.Next)
            {
                TextLine line = default;
                m.Name.AppendTo(ref line);
                line.AppendFormatted($" core={m.ImageSize} percpu={m.PerCpuSize} refcnt={ModuleRefcount.Sum(m.Refcount)} deps=");
                if (m.Uses.Length == 0) line.Append('-');
                for (int i = 0; i < m.Uses.Length; i++)
                {
                    if (i > 0) line.Append(',');
                    m.Uses[i].Name.AppendTo(ref line);
                }
                Console.Console.WriteLine(line);
            }
        }

        // Linux's layout: `tag: value`, one line per .modinfo string, the file first.
        static void Modinfo(ShellArguments* args)
        {
            if (args->Count != 2)
            {
                Shell.Shell.Error(args, "usage: modinfo NAME");
                return;
            }
            if (!FindFile(args, 1, out byte* file, out ulong length)) return;
            if (!ElfRelocatable.TryParse(file, length, out ElfRelocatable elf, out ElfError error))
            {
                if (elf != null) elf.Release(&Heap.FreeObject);
                Fail(args, 1, error);
                return;
            }
            TextLine first = $"filename: ";
            first.AppendBytes(args->Word(1), args->WordLength(1));
            first.AppendLiteral(FileSuffix);
            Console.Console.WriteLine(first);
            ModuleStrings info = ModuleStrings.Of(elf, Elf.ModInfoSectionName);
            ulong cursor = 0;
            while (info.Next(ref cursor, out byte* text, out int n))
            {
                TextLine line = default;
                int equals = 0;
                while (equals < n && text[equals] != '=') equals++;
                ElfRelocatable.AppendName(ref line, text, equals);
                line.Append(':');
                line.Append(' ');
                if (equals < n) ElfRelocatable.AppendName(ref line, text + equals + 1, n - equals - 1);
                Console.Console.WriteLine(line);
            }
            elf.Release(&Heap.FreeObject);
        }

        // The boot module NAME.kmod for word i; false (and the error printed) if there is none.
        static bool FindFile(ShellArguments* args, int i, out byte* file, out ulong length)
        {
            byte* name = args->Word(i);
            int n = args->WordLength(i);
            ElfError error = default;
            string bad = ModuleName.Validate(name, n);
            if (bad != null) error.Fail($"{bad}");
            else if (BootModules.TryFind(Boot.Information, name, n, FileSuffix, out file, out length)) return true;
            else
            {
                TextLine line = $"no ";
                line.AppendBytes(name, n);
                line.AppendFormatted($"{FileSuffix} in the boot image (it has:");
                AppendModuleFiles(ref line);
                line.AppendLiteral("); ./build.sh iso --add-module FILE adds one");
                error.Fail(line);
            }
            file = null;
            length = 0;
            Fail(args, i, error);
            return false;
        }

        static void AppendModuleFiles(ref TextLine line)
        {
            BootInformation info = Boot.Information;
            for (int k = 0; k < info.ModuleCount; k++)
            {
                BootModule m = info.Modules[k];
                if (!BootModules.EndsWith(m, FileSuffix)) continue;
                line.Append(' ');
                ElfRelocatable.AppendName(ref line, m.String, m.StringLength - FileSuffix.Length);
            }
        }

        // `<command>: NAME: error: <reason>`
        static void Fail(ShellArguments* args, int nameWord, in ElfError error)
        {
            TextLine line = default;
            line.AppendBytes(args->Word(0), args->WordLength(0));
            line.AppendLiteral(": ");
            ElfRelocatable.AppendName(ref line, args->Word(nameWord), args->WordLength(nameWord));
            line.AppendLiteral(": error: ");
            line.AppendFormatted(error.Line);
            Console.Console.WriteLine(line);
        }
    }
}
