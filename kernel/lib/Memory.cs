// memmove, memset and memcmp for the runtime, the kernel and C modules (memcmp).
// Word-at-a-time when both ends are 8-byte aligned: framebuffer scrolls and page copies
// move megabytes. Pure: compiled into the kernel and into every C# module.
namespace Percy.Kernel
{
    internal static unsafe class Memory
    {
        public static void Move(byte* dst, byte* src, nuint size)
        {
            bool words = (((nuint)dst | (nuint)src) & 7) == 0;
            nuint wordBytes = words ? size & ~(nuint)7 : 0;
            if (dst <= src)
            {
                for (nuint i = 0; i < wordBytes; i += 8) *(ulong*)(dst + i) = *(ulong*)(src + i);
                for (nuint i = wordBytes; i < size; i++) dst[i] = src[i];
            }
            else
            {
                for (nuint i = size; i > wordBytes; i--) dst[i - 1] = src[i - 1];
                for (nuint i = wordBytes; i > 0; i -= 8) *(ulong*)(dst + i - 8) = *(ulong*)(src + i - 8);
            }
        }

        public static void Fill(byte* dst, byte value, nuint size)
        {
            nuint wordBytes = ((nuint)dst & 7) == 0 ? size & ~(nuint)7 : 0;
            ulong pattern = value * 0x0101010101010101ul;
            for (nuint i = 0; i < wordBytes; i += 8) *(ulong*)(dst + i) = pattern;
            for (nuint i = wordBytes; i < size; i++) dst[i] = value;
        }

        // memcmp: <0, 0 or >0 as the first differing byte of a is below, equal to or above b's.
        public static int Compare(byte* a, byte* b, nuint size)
        {
            for (nuint i = 0; i < size; i++)
                if (a[i] != b[i]) return a[i] - b[i];
            return 0;
        }
    }
}
