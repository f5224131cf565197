// Kernel entry. boot.asm calls KernelMain in long mode on the boot stack with the
// Multiboot2 magic and the physical address of the boot information. The order of
// the steps is the boot flow of docs/design.md.
using System.Runtime;
using Percy.Kernel.Arch;
using Percy.Kernel.Console;
using Percy.Kernel.Shell;

namespace Percy.Kernel
{
    internal static unsafe class Boot
    {
        public const string Banner = "Percy " + BuildInfo.Version + " (build " + BuildInfo.BuildId + ") x86_64";

        [System.Runtime.RuntimeImport("*", "percy_boot_tsc")]
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]
        static extern ulong ReadEntryTsc();

        public static ulong EntryTsc => ReadEntryTsc();
        public static uint CpuId => 0;
        public static byte* CommandLine;
        public static int CommandLineLength;

        [RuntimeExport("KernelMain")]
        static void KernelMain(uint magic, ulong multibootInfo)
        {
            Internal.Runtime.CompilerHelpers.StartupCodeHelpers.InitializeModules();
            Serial.Init();
            Vga.Init(0, 80, 25);
            Log.Info("percy: " + Banner);
            Clock.Calibrate();
            Gdt.InitThisCpu();
            Interrupts.Init();
            Input.Init();
            Log.Info($"percy: tsc {Clock.TscPerMs / 1000} MHz, boot heap {Heap.Used / 1024} KiB used");
            BuiltinCommands.Register();
            FaultCommands.Register();
            Power.PowerCommands.Register();
            SelfTest.SelfTests.RegisterCommand();
            SelfTest.CoreTests.Register();
            Log.Info($"percy: ready cpus=1 possible=1 boot_ms={Clock.MillisecondsSinceBoot()}");
            Shell.Shell.Run();
        }
    }
}
