// `panic`: a deliberate kernel fault, to see (and test) the panic report.
namespace Percy.Kernel.Shell
{
    internal static unsafe class FaultCommands
    {
        const ulong UnmappedAddress = Mm.AddressSpace.NeverMapped + 0xDEAD0000;

        public static void Register() =>
            Shell.Register("panic", "panic", "write to an unmapped address: page fault, panic report", &PanicCommand);

        static void PanicCommand(ShellArguments* args)
        {
            if (!Shell.NoArguments(args)) return;
            *(ulong*)UnmappedAddress = 1;
        }
    }
}
