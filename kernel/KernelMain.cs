// Kernel entry. boot.asm calls KernelMain in long mode on the boot stack with the
// Multiboot2 magic and the physical address of the boot information. The order of
// the steps is the boot flow of docs/design.md.
using System.Runtime;
using System.Runtime.CompilerServices;
using Internal.Runtime.CompilerHelpers;
using Percy.Kernel.Arch;
using Percy.Kernel.Console;
using Percy.Kernel.Mm;
using Percy.Kernel.Multiboot;
using Percy.Kernel.Shell;

namespace Percy.Kernel
{
    internal static unsafe class Boot
    {
        public const string Banner = "Percy " + BuildInfo.Version + " (build " + BuildInfo.BuildId + ") x86_64";

        [RuntimeImport("*", "percy_boot_tsc")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern ulong ReadEntryTsc();

        public static ulong EntryTsc => ReadEntryTsc();
        // The running CPU's logical number, from its per-CPU area (GS base).
        public static uint CpuId => (uint)Smp.Cpus.ThisCpu;
        public static BootInformation Information;
        public static byte* CommandLine => Information.CommandLine;
        public static int CommandLineLength => Information.CommandLineLength;
        // The command line, parsed once at boot for every subsystem that reads options.
        public static KernelCommandLine Options;

        [RuntimeExport("KernelMain")]
        static void KernelMain(uint magic, ulong multibootInfo)
        {
            StartupCodeHelpers.InitializeModules();
            Serial.Init();
            Information = new BootInformation();
            string parseError = null;
            if (magic != Multiboot2.BootLoaderMagic) parseError = "not started by a Multiboot2 boot loader";
            else if (!DirectMap.Covers(multibootInfo, Multiboot2.MaxTotalSize)) parseError = "boot information outside mapped memory";
            else Multiboot2.Parse(DirectMap.ToVirtual(multibootInfo), multibootInfo, Multiboot2.MaxTotalSize, Information, out parseError);
            string screenError = parseError == null ? Screen.Init(Information) : null;

            Log.Info("percy: " + Banner);
            string clockProblem = Clock.Calibrate();
            if (parseError != null) Panic.Fail(parseError);
            ReportBootWarnings(screenError);
            Log.Info($"percy: tsc {Clock.TscPerMs / 1000} MHz");
            if (clockProblem != null)
                Log.Warn($"clock: warning: {clockProblem}; the TSC rate is {(Clock.Source == ClockSource.Cpuid ? "CPUID's" : "assumed")} until the HPET measures it");

            Gdt.InitThisCpu();
            Smp.Cpus.InitBootCpu();
            Interrupts.Init();
            LoadSymbols();

            PhysicalMemory.InitBootmem(Information);
            Acpi.AcpiBoot.Init(Information);
            KernelPageTables.Build(Acpi.AcpiBoot.PossibleCpuCount(), Information.Framebuffer);
            Percpu.FirstChunk.Build(KernelPageTables.PossibleCpus);
            PhysicalMemory.StartPageAllocator();
            KernelPageTables.UsePageAllocator();
            KernelHeap.Init();
            Percpu.DynamicPerCpu.Init();
            Modules.ModuleLoader.Init();
            Gdt.MoveInterruptStacks();
            Hpet.CalibrateClock();                  // only if the PIT could not time the TSC
            Apic.InitBootCpu(Acpi.AcpiBoot.Madt == null ? 0 : Acpi.AcpiBoot.Madt.LocalApicAddress);
            Hpet.Init();
            Interrupts.UseIoApic(Acpi.AcpiBoot.Madt);
            Input.Init();
            Smp.Cpus.Discover(Acpi.AcpiBoot.Madt, KernelPageTables.PossibleCpus);
            Smp.SmpBoot.StartSecondaryCpus();

            BuiltinCommands.Register();
            MemoryCommands.Register();
            FaultCommands.Register();
            Power.PowerCommands.Register();
            SelfTest.SelfTests.RegisterCommand();
            SelfTest.CoreTests.Register();
            SelfTest.MemoryTests.Register();
            Percpu.PerCpuTests.Register();
            Percpu.PerCpuCommands.Register();
            Percpu.DynamicPerCpuTests.Register();
            Smp.SmpCommands.Register();
            Smp.SmpTests.Register();
            Modules.ModuleCommands.Register();
            Modules.ModuleTests.Register();

            Log.Info($"percy: ready cpus={Smp.Cpus.OnlineCount} possible={Smp.Cpus.PossibleCount} boot_ms={Clock.MillisecondsSinceBoot()}");
            Shell.Shell.Run();
        }

        static void ReportBootWarnings(string screenError)
        {
            ProblemList warnings = Information.Warnings;
            for (int i = 0; i < warnings.Count; i++)
                Log.Warn($"multiboot2: warning: tag {warnings[i].Code}: {warnings[i].Reason}; skipped");
            if (warnings.Dropped > 0) Log.Warn($"multiboot2: warning: {warnings.Dropped} more problems not shown");
            if (screenError != null) Log.Warn($"console: warning: screen not used: {screenError}");
            TextLine line = $"percy: command line: ";
            line.AppendBytes(Information.CommandLine, Information.CommandLineLength);
            Log.Info(line);
            Options = new KernelCommandLine();
            Options.Parse(Information.CommandLine, Information.CommandLineLength);
            for (int i = 0; i < Options.ProblemCount; i++)
                Log.Warn($"percy: warning: command line at byte {Options.Problem(i).Position}: {Options.Problem(i).Reason}; ignored");
            if (Options.ProblemsDropped > 0) Log.Warn($"percy: warning: {Options.ProblemsDropped} more command-line problems not shown");
        }

        static void LoadSymbols()
        {
            ElfSectionsInfo sections = Information.ElfSections;
            if (!sections.Present)
            {
                Log.Warn("percy: warning: no ELF sections from the boot loader; call traces will not be symbolised");
                return;
            }
            if (ElfSymbolTable.TryCreate(sections.Headers, sections.Count, sections.EntrySize, DirectMap.Offset,
                                         out ElfSymbolTable symbols, out string error))
            {
                Panic.SetSymbolTable(symbols);
                Log.Info($"percy: {symbols.Count} kernel symbols for panic call traces");
            }
            else Log.Warn($"percy: warning: {error}; call traces will not be symbolised");
        }
    }
}
