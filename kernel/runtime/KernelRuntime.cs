// The kernel's side of the runtime: the native helpers the ILCompiler's code calls by
// symbol (allocation, write barriers, transitions, fail-fast) and how the runtime fails.
// Percy has no GC, so write barriers are plain stores and objects are never moved.
// Allocation goes through Heap.Allocate, which the memory subsystem provides.
// C# modules call these same helpers: kernel/modules/KernelExportTable.cs exports them.
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

    internal static partial class RuntimeFailure
    {
        public static partial void Fail(string reason) => Panic.Fail(reason);
    }
}

namespace Internal.Runtime.CompilerHelpers
{
    using Internal.Runtime;

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
