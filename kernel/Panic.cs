using Percy.Kernel.Arch;
using Percy.Kernel.Console;

namespace Percy.Kernel
{
    internal static class Panic
    {
        public static void Fail(string reason)
        {
            Cpu.DisableInterrupts();
            Serial.Write("panic: ");
            Serial.Write(reason);
            Serial.Write((byte)'\n');
            Cpu.HaltForever();
        }
    }
}
