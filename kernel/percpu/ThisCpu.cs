// this_cpu operations (Linux's this_cpu_*), on the this-CPU reference that a per-CPU
// variable's generated property returns (an address in the local window).
//
// Read, write, add, sub, inc and dec are plain C# on that reference: `X = v`, `X += v`,
// `X -= v`, `X++`, `X--` compile to one instruction on the variable (`add qword [rax], v`),
// so an interrupt on this CPU sees the variable before or after, never half-updated —
// what Linux's this_cpu_add gets from `add %gs:x`. Exchange and compare-exchange need an
// instruction C# has only through Interlocked: the JIT expands it to `xchg` or
// `lock cmpxchg` inline, atomic against interrupts and against other CPUs (Linux's
// this_cpu_cmpxchg omits the lock, since only this CPU writes its copy; the lock costs a
// few cycles and keeps one set of intrinsics). Unsigned overloads reinterpret the bits.
using System.Threading;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class ThisCpu
    {
        // this_cpu_xchg(var, value): stores value, returns the old value.
        public static byte Exchange(ref byte v, byte value) => Interlocked.Exchange(ref v, value);
        public static short Exchange(ref short v, short value) => Interlocked.Exchange(ref v, value);
        public static int Exchange(ref int v, int value) => Interlocked.Exchange(ref v, value);
        public static long Exchange(ref long v, long value) => Interlocked.Exchange(ref v, value);
        public static sbyte Exchange(ref sbyte v, sbyte value) { fixed (sbyte* p = &v) return (sbyte)Interlocked.Exchange(ref *(byte*)p, (byte)value); }
        public static ushort Exchange(ref ushort v, ushort value) { fixed (ushort* p = &v) return (ushort)Interlocked.Exchange(ref *(short*)p, (short)value); }
        public static uint Exchange(ref uint v, uint value) { fixed (uint* p = &v) return (uint)Interlocked.Exchange(ref *(int*)p, (int)value); }
        public static ulong Exchange(ref ulong v, ulong value) { fixed (ulong* p = &v) return (ulong)Interlocked.Exchange(ref *(long*)p, (long)value); }

        // this_cpu_cmpxchg(var, expected, value): stores value if var == expected; returns
        // the old value either way (equal to expected exactly when the store happened).
        public static byte CompareExchange(ref byte v, byte expected, byte value) => Interlocked.CompareExchange(ref v, value, expected);
        public static short CompareExchange(ref short v, short expected, short value) => Interlocked.CompareExchange(ref v, value, expected);
        public static int CompareExchange(ref int v, int expected, int value) => Interlocked.CompareExchange(ref v, value, expected);
        public static long CompareExchange(ref long v, long expected, long value) => Interlocked.CompareExchange(ref v, value, expected);
        public static sbyte CompareExchange(ref sbyte v, sbyte expected, sbyte value) { fixed (sbyte* p = &v) return (sbyte)Interlocked.CompareExchange(ref *(byte*)p, (byte)value, (byte)expected); }
        public static ushort CompareExchange(ref ushort v, ushort expected, ushort value) { fixed (ushort* p = &v) return (ushort)Interlocked.CompareExchange(ref *(short*)p, (short)value, (short)expected); }
        public static uint CompareExchange(ref uint v, uint expected, uint value) { fixed (uint* p = &v) return (uint)Interlocked.CompareExchange(ref *(int*)p, (int)value, (int)expected); }
        public static ulong CompareExchange(ref ulong v, ulong expected, ulong value) { fixed (ulong* p = &v) return (ulong)Interlocked.CompareExchange(ref *(long*)p, (long)value, (long)expected); }
    }
}
