// `panic`: a deliberate kernel fault, to see (and test) the panic report.
namespace Percy.Kernel.Shell
{
    internal static unsafe class FaultCommands
    {
        // Canonical, in the kernel half, and never mapped: a write here is a page fault.
        const ulong UnmappedAddress = 0xFFFF_8000_DEAD_0000;

        public static void Register() =>
            Shell.Register("panic", "panic", "write to an unmapped address: page fault, panic report", &PanicCommand);

        static void PanicCommand(ShellArguments* args)
        {
            if (!Shell.NoArguments(args)) return;
            *(ulong*)UnmappedAddress = 1;
        }
    }
}
