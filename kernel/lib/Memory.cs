namespace Percy.Kernel
{
    internal static unsafe class Memory
    {
        public static void Move(byte* dst, byte* src, nuint size)
        {
            if (dst < src) for (nuint i = 0; i < size; i++) dst[i] = src[i];
            else for (nuint i = size; i > 0; i--) dst[i - 1] = src[i - 1];
        }

        public static void Fill(byte* dst, byte value, nuint size)
        {
            for (nuint i = 0; i < size; i++) dst[i] = value;
        }
    }
}
