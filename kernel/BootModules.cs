// Boot modules (Multiboot2 tag 3) by name: the name is the module's command line, which
// the ISO's grub.cfg sets to the file's name (`font`, `hello.kmod`). Their memory is
// reserved at boot and never freed, so a pointer into one stays valid.
using Percy.Kernel.Mm;
using Percy.Kernel.Multiboot;

namespace Percy.Kernel
{
    internal static unsafe class BootModules
    {
        public static bool TryFind(BootInformation info, string name, out byte* data, out ulong size)
            => TryFind(info, null, 0, name, out data, out size);

        // The module named `prefix` (length bytes) followed by `suffix`: insmod's NAME.kmod.
        public static bool TryFind(BootInformation info, byte* prefix, int length, string suffix, out byte* data, out ulong size)
        {
            for (int i = 0; i < info.ModuleCount; i++)
            {
                BootModule m = info.Modules[i];
                if (!Matches(m, prefix, length, suffix) || !DirectMap.Covers(m.Start, m.End - m.Start)) continue;
                data = DirectMap.ToVirtual(m.Start);
                size = m.End - m.Start;
                return true;
            }
            data = null;
            size = 0;
            return false;
        }

        public static bool EndsWith(BootModule m, string suffix)
            => m.StringLength >= suffix.Length && Matches(m.String + m.StringLength - suffix.Length, suffix);

        static bool Matches(BootModule m, byte* prefix, int length, string suffix)
        {
            if (m.StringLength != length + suffix.Length) return false;
            for (int k = 0; k < length; k++)
                if (m.String[k] != prefix[k]) return false;
            return Matches(m.String + length, suffix);
        }

        static bool Matches(byte* text, string s)
        {
            for (int k = 0; k < s.Length; k++)
                if (text[k] != s[k]) return false;
            return true;
        }
    }
}
