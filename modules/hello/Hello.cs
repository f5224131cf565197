// The smallest module: a line in the kernel log when it is loaded and when it is unloaded.
//   percy> insmod hello            hello: hello from cpu 0 of 4 possible
//   percy> rmmod hello             hello: goodbye
using Percy.Module;

[assembly: ModuleInfo(Description = "Logs a line in init and in exit", Author = "Percy", License = "MIT")]

namespace Percy.Modules.Hello
{
    internal static class HelloModule
    {
        [ModuleInit]
        internal static int Init()
        {
            KernelApi.Log($"hello from cpu {KernelApi.ThisCpu} of {KernelApi.NumPossibleCpus} possible");
            return 0;
        }

        [ModuleExit]
        internal static void Exit() => KernelApi.Log($"goodbye");
    }
}
