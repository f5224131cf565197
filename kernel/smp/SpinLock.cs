// A test-and-set lock. Take it with interrupts off (LockIrqSave) when an interrupt
// handler may take it too, or the handler would spin on its own CPU's lock forever.
//
// The exchange is Interlocked.Exchange, which the JIT expands inline to `xchg` (locked on
// x86), and the small methods inline into their callers: under QEMU's TCG a call and its
// return cost ~10 ns each, more than the lock itself, and the dynamic per-CPU allocator
// takes this lock twice per alloc_percpu/free_percpu pair.
using System.Runtime.CompilerServices;
using System.Threading;
using Percy.Kernel.Arch;

namespace Percy.Kernel.Smp
{
    internal static unsafe class SpinLock
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Lock(int* l)
        {
            while (Interlocked.Exchange(ref *l, 1) != 0) Spin(l);
        }

        // Out of line: contention is the rare case. A read-only spin: no bus locking.
        static void Spin(int* l)
        {
            while (*l != 0) Cpu.Pause();
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unlock(int* l) => Interlocked.Exchange(ref *l, 0);

        // While it waits, interrupts are as the caller had them: the holder may be waiting
        // for this CPU to take an IPI (UnitPages' TLB shootdown runs under the per-CPU
        // allocator's lock), as Linux's spin_lock_irqsave once did on x86.
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static ulong LockIrqSave(int* l)
        {
            ulong flags = Irq.Save();
            while (Interlocked.Exchange(ref *l, 1) != 0)
            {
                Irq.Restore(flags);
                Spin(l);
                Irq.Save();
            }
            return flags;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void UnlockIrqRestore(int* l, ulong flags)
        {
            Unlock(l);
            Irq.Restore(flags);
        }
    }
}
