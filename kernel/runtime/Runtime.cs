// Helpers the ILCompiler calls into: allocation, write barriers, casts, throw paths.
// Percy has no GC, so write barriers are plain stores and objects are never moved.
// Allocation goes through Heap.Allocate, which the memory subsystem provides.
using System.Runtime;
using Percy.Kernel;

namespace Internal.Runtime
{
    // The part of the compiler's MethodTable that allocation needs.
    internal unsafe struct MethodTable
    {
        internal ushort ComponentSize;
        internal ushort Flags;
        internal uint BaseSize;
    }
}

namespace Internal.Runtime.CompilerHelpers
{
    using Internal.Runtime;

    internal static unsafe class ThrowHelpers
    {
        public static void ThrowIndexOutOfRangeException() => Panic.Fail("index out of range");
        public static void ThrowNullReferenceException() => Panic.Fail("null reference");
        public static void ThrowDivideByZeroException() => Panic.Fail("divide by zero");
        public static void ThrowOverflowException() => Panic.Fail("arithmetic overflow");
        public static void ThrowInvalidProgramException() => Panic.Fail("invalid program");
        public static void ThrowInvalidProgramExceptionWithArgument() => Panic.Fail("invalid program");
        public static void ThrowTypeLoadException() => Panic.Fail("type load");
        public static void ThrowTypeLoadExceptionWithArgument() => Panic.Fail("type load");
        public static void ThrowArrayTypeMismatchException() => Panic.Fail("array type mismatch");
        public static void ThrowPlatformNotSupportedException() => Panic.Fail("platform not supported");
        public static void ThrowNotImplementedException() => Panic.Fail("not implemented");
        public static void ThrowMissingMethodException() => Panic.Fail("missing method");
        public static void ThrowMissingFieldException() => Panic.Fail("missing field");
        public static void ThrowBadImageFormatException() => Panic.Fail("bad image format");
        public static void ThrowMarshalDirectiveException() => Panic.Fail("marshal directive");
        public static void ThrowAmbiguousMatchException() => Panic.Fail("ambiguous match");
        public static void ThrowInvalidCastException() => Panic.Fail("invalid cast");
        public static void ThrowArgumentException() => Panic.Fail("argument");
        public static void ThrowArgumentOutOfRangeException() => Panic.Fail("argument out of range");
        public static void ThrowNotSupportedException() => Panic.Fail("not supported");
        public static void ThrowFeatureBodyRemoved() => Panic.Fail("feature body removed");
    }

    internal static unsafe class RuntimeExports
    {
        [RuntimeExport("RhpNewFast")]
        static void* RhpNewFast(MethodTable* mt) => NewObject(mt, mt->BaseSize);

        [RuntimeExport("RhpNewFinalizable")]
        static void* RhpNewFinalizable(MethodTable* mt) => NewObject(mt, mt->BaseSize);

        [RuntimeExport("RhpNewArrayFast")]
        static void* RhpNewArrayFast(MethodTable* mt, int length) => NewArray(mt, length);

        [RuntimeExport("RhpNewPtrArrayFast")]
        static void* RhpNewPtrArrayFast(MethodTable* mt, int length) => NewArray(mt, length);

        [RuntimeExport("RhNewString")]
        static void* RhNewString(MethodTable* mt, int length) => NewArray(mt, length);

        static void* NewArray(MethodTable* mt, int length)
        {
            if (length < 0) Panic.Fail("negative array length");
            ulong size = mt->BaseSize + (ulong)mt->ComponentSize * (ulong)length;
            void* obj = NewObject(mt, size);
            *(int*)((byte*)obj + sizeof(void*)) = length;
            return obj;
        }

        static void* NewObject(MethodTable* mt, ulong size)
        {
            // Objects are pointer-aligned and zeroed, as the compiler assumes.
            size = (size + (ulong)sizeof(void*) - 1) & ~((ulong)sizeof(void*) - 1);
            void* obj = Heap.Allocate(size);
            *(MethodTable**)obj = mt;
            return obj;
        }

        [RuntimeExport("RhpAssignRef")]
        static void RhpAssignRef(void** dst, void* obj) => *dst = obj;

        [RuntimeExport("RhpCheckedAssignRef")]
        static void RhpCheckedAssignRef(void** dst, void* obj) => *dst = obj;

        // Reverse P/Invoke transitions switch a thread into cooperative GC mode; without a
        // GC there is nothing to switch. ILC's library startup code calls them.
        [RuntimeExport("RhpReversePInvoke")]
        static void RhpReversePInvoke(void* frame) { }

        [RuntimeExport("RhpReversePInvokeReturn")]
        static void RhpReversePInvokeReturn(void* frame) { }

        [RuntimeExport("RhpGcPoll")]
        static void RhpGcPoll() { }

        [RuntimeExport("RhpFallbackFailFast")]
        static void RhpFallbackFailFast() => Panic.Fail("runtime fail-fast");

        [RuntimeExport("RhpThrowEx")]
        static void RhpThrowEx(void* ex) => Panic.Fail("exception thrown (Percy does not unwind)");
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
            if (obj != null && (void*)MT(obj) != mt) Percy.Kernel.Panic.Fail("invalid cast");
            return obj;
        }

        public static void StelemRef(object[] array, nint index, object obj) => *Element(array, index) = obj;

        public static ref object LdelemaRef(object[] array, nint index, void* elementType) => ref *Element(array, index);

        // Raw element address: array[i] syntax here would call these helpers again.
        static object* Element(object[] array, nint index)
        {
            if ((nuint)index >= (nuint)array.Length) Percy.Kernel.Panic.Fail("index out of range");
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
