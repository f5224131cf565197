// Managed helpers the ILCompiler calls by name in the system module: casts, throw paths,
// block copies. Shared source: compiled into the kernel and into every C# module (each is
// its own system module, docs/modules.md), so it names nothing of the kernel's but the
// pure Memory routines and RuntimeFailure.Fail, which each side implements: a panic in the
// kernel (KernelRuntime.cs), a call to the kernel's percy_panic in a module (modules/sdk).
// The native helpers (allocation, write barriers) are the kernel's alone: KernelRuntime.cs.

namespace Internal.Runtime
{
    // How the runtime gives up when the compiler's checks fail (bounds, null, casts): it
    // does not return. Implemented once by each side that compiles this file.
    internal static partial class RuntimeFailure
    {
        public static partial void Fail(string reason);
    }
}

namespace Internal.Runtime.CompilerHelpers
{
    using Internal.Runtime;

    internal static unsafe class ThrowHelpers
    {
        public static void ThrowIndexOutOfRangeException() => RuntimeFailure.Fail("index out of range");
        public static void ThrowNullReferenceException() => RuntimeFailure.Fail("null reference");
        public static void ThrowDivideByZeroException() => RuntimeFailure.Fail("divide by zero");
        public static void ThrowOverflowException() => RuntimeFailure.Fail("arithmetic overflow");
        public static void ThrowInvalidProgramException() => RuntimeFailure.Fail("invalid program");
        public static void ThrowInvalidProgramExceptionWithArgument() => RuntimeFailure.Fail("invalid program");
        public static void ThrowTypeLoadException() => RuntimeFailure.Fail("type load");
        public static void ThrowTypeLoadExceptionWithArgument() => RuntimeFailure.Fail("type load");
        public static void ThrowArrayTypeMismatchException() => RuntimeFailure.Fail("array type mismatch");
        public static void ThrowPlatformNotSupportedException() => RuntimeFailure.Fail("platform not supported");
        public static void ThrowNotImplementedException() => RuntimeFailure.Fail("not implemented");
        public static void ThrowMissingMethodException() => RuntimeFailure.Fail("missing method");
        public static void ThrowMissingFieldException() => RuntimeFailure.Fail("missing field");
        public static void ThrowBadImageFormatException() => RuntimeFailure.Fail("bad image format");
        public static void ThrowMarshalDirectiveException() => RuntimeFailure.Fail("marshal directive");
        public static void ThrowAmbiguousMatchException() => RuntimeFailure.Fail("ambiguous match");
        public static void ThrowInvalidCastException() => RuntimeFailure.Fail("invalid cast");
        public static void ThrowArgumentException() => RuntimeFailure.Fail("argument");
        public static void ThrowArgumentOutOfRangeException() => RuntimeFailure.Fail("argument out of range");
        public static void ThrowNotSupportedException() => RuntimeFailure.Fail("not supported");
        public static void ThrowFeatureBodyRemoved() => RuntimeFailure.Fail("feature body removed");
    }
}

namespace System
{
    internal static unsafe class Buffer
    {
        internal static void BulkMoveWithWriteBarrier(ref byte dst, ref byte src, nuint size)
        {
            fixed (byte* d = &dst) fixed (byte* s = &src) Percy.Kernel.Memory.Move(d, s, size);
        }
    }

    internal static unsafe class SpanHelpers
    {
        internal static void Memmove(ref byte dst, ref byte src, nuint size)
        {
            fixed (byte* d = &dst) fixed (byte* s = &src) Percy.Kernel.Memory.Move(d, s, size);
        }

        internal static void Fill(ref byte dst, nuint size, byte value)
        {
            fixed (byte* d = &dst) Percy.Kernel.Memory.Fill(d, value, size);
        }

        internal static void ClearWithoutReferences(ref byte dst, nuint size)
        {
            fixed (byte* d = &dst) Percy.Kernel.Memory.Fill(d, 0, size);
        }
    }
}

namespace System.Runtime
{
    using Internal.Runtime;

    // Casting helpers. Percy's kernel code avoids casts across class hierarchies; what the
    // compiler still needs is exact-type checks, which compare MethodTable pointers.
    internal static unsafe class TypeCast
    {
        static IntPtr MT(object o) => o.m_pMethodTable;

        public static object IsInstanceOfClass(void* mt, object obj) => obj == null || (void*)MT(obj) == mt ? obj : null;
        public static object IsInstanceOfAny(void* mt, object obj) => IsInstanceOfClass(mt, obj);
        public static object IsInstanceOfInterface(void* mt, object obj) => IsInstanceOfClass(mt, obj);
        public static object IsInstanceOfException(void* mt, object obj) => IsInstanceOfClass(mt, obj);

        public static object CheckCastClass(void* mt, object obj) => CheckCastAny(mt, obj);
        public static object CheckCastInterface(void* mt, object obj) => CheckCastAny(mt, obj);
        public static object CheckCastClassSpecial(void* mt, object obj) => CheckCastAny(mt, obj);
        public static object CheckCastAny(void* mt, object obj)
        {
            if (obj != null && (void*)MT(obj) != mt) RuntimeFailure.Fail("invalid cast");
            return obj;
        }

        public static void StelemRef(object[] array, nint index, object obj) => *Element(array, index) = obj;

        public static ref object LdelemaRef(object[] array, nint index, void* elementType) => ref *Element(array, index);

        // Raw element address: array[i] syntax here would call these helpers again.
        static object* Element(object[] array, nint index)
        {
            if ((nuint)index >= (nuint)array.Length) RuntimeFailure.Fail("index out of range");
            byte* elements = *(byte**)&array + 2 * sizeof(void*);
            return (object*)elements + index;
        }
    }
}

namespace System.Runtime.InteropServices
{
    internal interface IDynamicInterfaceCastable
    {
        static RuntimeTypeHandle GetDynamicInterfaceImplementation(object instance, RuntimeTypeHandle interfaceType) => default;
    }
}
