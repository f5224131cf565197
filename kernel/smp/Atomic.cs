// Locked memory operations (trampoline.asm: C# has no lock prefix) and interrupt-flag
// save/restore (the spinlock is in SpinLock.cs). Callers pass addresses of fields that
// live in the heap, in statics or in PerCpu areas: memory that never moves.
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Smp
{
    internal static unsafe class Atomic
    {
        [RuntimeImport("*", "percy_atomic_xchg32")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern int Exchange(int* p, int value);
        [RuntimeImport("*", "percy_atomic_cmpxchg32")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern int CompareExchange(int* p, int expected, int value);
        [RuntimeImport("*", "percy_atomic_add32")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern int Add(int* p, int delta);
        [RuntimeImport("*", "percy_atomic_or64")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void Or(ulong* p, ulong bits);
        [RuntimeImport("*", "percy_atomic_and64")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void And(ulong* p, ulong bits);
    }

    internal static unsafe class Irq
    {
        [RuntimeImport("*", "percy_irq_save")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern ulong Save();
        [RuntimeImport("*", "percy_irq_restore")] [MethodImpl(MethodImplOptions.InternalCall)] public static extern void Restore(ulong flags);
    }
}
