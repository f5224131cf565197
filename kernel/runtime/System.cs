// Percy's minimal runtime: the types the C# compiler and the ILCompiler need to exist.
// There is no garbage collector and no BCL. Objects come from the kernel heap
// (see Runtime.cs); exceptions are not thrown, they panic.
#pragma warning disable CS0169, CS0649, CS8618

namespace System
{
    public class Object
    {
        // The object header is the MethodTable pointer: a contract with the compiler.
        internal IntPtr m_pMethodTable;

        public virtual bool Equals(object o) => (object)this == o;
        public virtual int GetHashCode() => 0;
        public virtual string ToString() => null;
        ~Object() { }
    }

    public struct Void { }
    public struct Boolean { }
    public struct Char { }
    public struct SByte { public const sbyte MaxValue = 0x7f; public const sbyte MinValue = -0x80; }
    public struct Byte { public const byte MaxValue = 0xff; public const byte MinValue = 0; }
    public struct Int16 { public const short MaxValue = 0x7fff; public const short MinValue = -0x8000; }
    public struct UInt16 { public const ushort MaxValue = 0xffff; public const ushort MinValue = 0; }
    public struct Int32 { public const int MaxValue = 0x7fffffff; public const int MinValue = unchecked((int)0x80000000); }
    public struct UInt32 { public const uint MaxValue = 0xffffffff; }
    public struct Int64 { public const long MaxValue = 0x7fffffffffffffff; public const long MinValue = unchecked((long)0x8000000000000000); }
    public struct UInt64 { public const ulong MaxValue = 0xffffffffffffffff; }
    public struct Single { }
    public struct Double { }
    public struct IntPtr
    {
        private unsafe void* _value;
        public static unsafe int Size => sizeof(IntPtr);
    }
    public struct UIntPtr { private unsafe void* _value; }

    public abstract class ValueType { }
    public abstract class Enum : ValueType { }
    public struct Nullable<T> where T : struct
    {
        private readonly bool hasValue;
        internal T value;
    }

    public sealed class String
    {
        // Layout contract with the compiler: length, then the characters.
        private readonly int _stringLength;
        private char _firstChar;

        public int Length => _stringLength;

        [System.Runtime.CompilerServices.IndexerName("Chars")]
        public unsafe char this[int index]
        {
            get
            {
                if ((uint)index >= (uint)_stringLength)
                    Internal.Runtime.CompilerHelpers.ThrowHelpers.ThrowIndexOutOfRangeException();
                fixed (char* p = &_firstChar) return p[index];
            }
        }

        public ref readonly char GetPinnableReference() => ref _firstChar;

        public static bool operator ==(string a, string b) => Equals(a, b);
        public static bool operator !=(string a, string b) => !Equals(a, b);
        public override bool Equals(object o) => o is string s && Equals(this, s);
        public override int GetHashCode() => _stringLength;

        public static bool Equals(string a, string b)
        {
            if ((object)a == b) return true;
            if ((object)a == null || (object)b == null || a._stringLength != b._stringLength) return false;
            for (int i = 0; i < a._stringLength; i++)
                if (a[i] != b[i]) return false;
            return true;
        }
    }

    public abstract class Array
    {
        // Layout contract with the compiler: the length follows the header (elements at +16).
        private int _length;
        private int _padding;
        public int Length => _length;
    }

    // ILC wants the generic array type that T[] derives from at run time.
    public class Array<T> : Array { }

    public abstract class Delegate
    {
        internal object m_firstParameter;
        internal object m_helperObject;
        internal IntPtr m_extraFunctionPointerOrData;
        internal IntPtr m_functionPointer;
    }
    public abstract class MulticastDelegate : Delegate { }

    public struct RuntimeTypeHandle { }
    public struct RuntimeMethodHandle { }
    public struct RuntimeFieldHandle { }
    public abstract class Type { }
    internal sealed class RuntimeType : Type { }
    public class Exception { public Exception() { } public Exception(string message) { } }

    public interface IDisposable { void Dispose(); }

    public abstract class Attribute { }

    [Flags]
    public enum AttributeTargets
    {
        Assembly = 1, Module = 2, Class = 4, Struct = 8, Enum = 16, Constructor = 32, Method = 64,
        Property = 128, Field = 256, Event = 512, Interface = 1024, Parameter = 2048, Delegate = 4096,
        ReturnValue = 8192, GenericParameter = 16384, All = 32767,
    }

    public sealed class AttributeUsageAttribute : Attribute
    {
        public AttributeUsageAttribute(AttributeTargets validOn) { }
        public bool AllowMultiple { get; set; }
        public bool Inherited { get; set; }
    }

    public sealed class FlagsAttribute : Attribute { }
    public sealed class ParamArrayAttribute : Attribute { }
    public sealed class ObsoleteAttribute : Attribute { public ObsoleteAttribute(string message) { } }
}

namespace System.Reflection
{
    public sealed class DefaultMemberAttribute : Attribute { public DefaultMemberAttribute(string memberName) { } }
}

namespace System.Runtime
{
    // [RuntimeExport("sym")]: the method is emitted under that plain symbol name (asm → C#).
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class RuntimeExportAttribute : Attribute { public RuntimeExportAttribute(string entry) { } }

    // [RuntimeImport("*", "sym")] with InternalCall: a direct call to an asm symbol (C# → asm).
    [AttributeUsage(AttributeTargets.Method)]
    internal sealed class RuntimeImportAttribute : Attribute
    {
        public RuntimeImportAttribute(string entry) { }
        public RuntimeImportAttribute(string dllName, string entry) { }
    }
}

namespace System.Runtime.CompilerServices
{
    internal sealed class IntrinsicAttribute : Attribute { }
    public sealed class IndexerNameAttribute : Attribute { public IndexerNameAttribute(string indexerName) { } }
    public sealed class IsVolatile { }
    public sealed class IsByRefLikeAttribute : Attribute { }
    public sealed class IsReadOnlyAttribute : Attribute { }
    public sealed class IsUnmanagedAttribute : Attribute { }
    public sealed class ExtensionAttribute : Attribute { }
    public sealed class CompilerGeneratedAttribute : Attribute { }
    public sealed class FixedBufferAttribute : Attribute { public FixedBufferAttribute(Type elementType, int length) { } }
    public sealed class InterpolatedStringHandlerAttribute : Attribute { }
    public sealed class ScopedRefAttribute : Attribute { }
    public sealed class RefSafetyRulesAttribute : Attribute { public RefSafetyRulesAttribute(int version) { } }
    public sealed class NullableAttribute : Attribute { public NullableAttribute(byte b) { } public NullableAttribute(byte[] b) { } }
    public sealed class NullableContextAttribute : Attribute { public NullableContextAttribute(byte b) { } }

    public static class RuntimeFeature
    {
        public const string ByRefFields = nameof(ByRefFields);
        public const string UnmanagedSignatureCallingConvention = nameof(UnmanagedSignatureCallingConvention);
        public const string DefaultImplementationsOfInterfaces = nameof(DefaultImplementationsOfInterfaces);
        public const string NumericIntPtr = nameof(NumericIntPtr);
    }

    public static class RuntimeHelpers
    {
        public static unsafe int OffsetToStringData => sizeof(IntPtr) + sizeof(int);
    }

    // ILC supplies the body of an [Intrinsic] method of this type (AsPointer: the reference
    // as a pointer). The kernel uses it to delete objects explicitly: Heap.FreeObject.
    public static unsafe class Unsafe
    {
        [Intrinsic] public static void* AsPointer<T>(ref T value) { Internal.Runtime.RuntimeFailure.Fail("Unsafe.AsPointer not expanded"); return null; }
    }

    public enum MethodImplOptions
    {
        NoInlining = 0x0008,
        NoOptimization = 0x0040,
        AggressiveInlining = 0x0100,
        InternalCall = 0x1000,
    }

    public sealed class MethodImplAttribute : Attribute
    {
        public MethodImplAttribute(MethodImplOptions methodImplOptions) { }
    }
}

namespace System.Runtime.InteropServices
{
    public enum LayoutKind { Sequential = 0, Explicit = 2, Auto = 3 }
    public enum CharSet { None = 1, Ansi = 2, Unicode = 3, Auto = 4 }
    public enum CallingConvention { Winapi = 1, Cdecl = 2, StdCall = 3, ThisCall = 4, FastCall = 5 }

    public sealed class StructLayoutAttribute : Attribute
    {
        public StructLayoutAttribute(LayoutKind layoutKind) { }
        public int Pack;
        public int Size;
        public CharSet CharSet;
    }
    public sealed class FieldOffsetAttribute : Attribute { public FieldOffsetAttribute(int offset) { } }
    public sealed class InAttribute : Attribute { }
    public sealed class OutAttribute : Attribute { }
    public sealed class UnmanagedCallersOnlyAttribute : Attribute
    {
        public string EntryPoint;
        public Type[] CallConvs;
    }
    public sealed class SuppressGCTransitionAttribute : Attribute { }
}

namespace System.Threading
{
    // The JIT expands these [Intrinsic] methods into single locked instructions (xchg,
    // lock cmpxchg); the bodies run only if it did not, and then they fail loudly rather
    // than recurse.
    public static class Interlocked
    {
        [System.Runtime.CompilerServices.Intrinsic] public static byte Exchange(ref byte location, byte value) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.Exchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static short Exchange(ref short location, short value) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.Exchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static int Exchange(ref int location, int value) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.Exchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static long Exchange(ref long location, long value) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.Exchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static byte CompareExchange(ref byte location, byte value, byte comparand) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.CompareExchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static short CompareExchange(ref short location, short value, short comparand) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.CompareExchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static int CompareExchange(ref int location, int value, int comparand) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.CompareExchange not expanded"); return 0; }
        [System.Runtime.CompilerServices.Intrinsic] public static long CompareExchange(ref long location, long value, long comparand) { Internal.Runtime.RuntimeFailure.Fail("Interlocked.CompareExchange not expanded"); return 0; }
    }
}

namespace System
{
    // The checked double-to-integer conversions the JIT calls by name (ILC looks all four
    // up as soon as any checked conversion is compiled). The kernel uses no floating point
    // in checked contexts; an out-of-range value is a bug, so it panics.
    public static class Math
    {
        static void Overflow() => Internal.Runtime.RuntimeFailure.Fail("arithmetic overflow in a checked conversion");
        public static int ConvertToInt32Checked(double v) { if (!(v > -2147483649.0 && v < 2147483648.0)) Overflow(); return (int)v; }
        public static uint ConvertToUInt32Checked(double v) { if (!(v > -1.0 && v < 4294967296.0)) Overflow(); return (uint)v; }
        public static long ConvertToInt64Checked(double v) { if (!(v >= -9223372036854775808.0 && v < 9223372036854775808.0)) Overflow(); return (long)v; }
        public static ulong ConvertToUInt64Checked(double v) { if (!(v > -1.0 && v < 18446744073709551616.0)) Overflow(); return (ulong)v; }
    }
}
