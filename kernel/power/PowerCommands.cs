using Percy.Kernel.Shell;

namespace Percy.Kernel.Power
{
    internal static unsafe class PowerCommands
    {
        public static void Register()
        {
            Shell.Shell.Register("poweroff", "poweroff", "turn the machine off (ACPI S5)", &PowerOffCommand);
            Shell.Shell.Register("reboot", "reboot", "restart the machine", &RebootCommand);
        }

        static void PowerOffCommand(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            Log.Info("percy: powering off");
            Shell.Shell.Error(args, PowerManager.PowerOff());
        }

        static void RebootCommand(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            Log.Info("percy: rebooting");
            PowerManager.Reboot();
        }
    }
}
