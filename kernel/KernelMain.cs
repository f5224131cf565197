using System.Runtime;
using Percy.Kernel.Console;

namespace Percy.Kernel
{
    internal static unsafe class Boot
    {
        [RuntimeExport("KernelMain")]
        static void KernelMain(uint magic, ulong multibootInfo)
        {
            Serial.Init();
            Serial.Write("percy: hello from C#\n");
            Arch.Cpu.HaltForever();
        }
    }
}
