// Boot modules (Multiboot2 tag 3) by name: the name is the module's command line.
using Percy.Kernel.Mm;
using Percy.Kernel.Multiboot;

namespace Percy.Kernel
{
    internal static unsafe class BootModules
    {
        public static bool TryFind(BootInformation info, string name, out byte* data, out ulong size)
        {
            for (int i = 0; i < info.ModuleCount; i++)
            {
                BootModule m = info.Modules[i];
                if (m.StringLength != name.Length) continue;
                bool same = true;
                for (int k = 0; k < name.Length && same; k++) same = m.String[k] == name[k];
                if (!same || !DirectMap.Covers(m.Start, m.End - m.Start)) continue;
                data = DirectMap.ToVirtual(m.Start);
                size = m.End - m.Start;
                return true;
            }
            data = null;
            size = 0;
            return false;
        }
    }
}
