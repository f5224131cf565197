namespace Percy.Kernel
{
    internal static unsafe class Heap
    {
        public static void* Allocate(ulong size)
        {
            Panic.Fail("heap not ready");
            return null;
        }
    }
}
