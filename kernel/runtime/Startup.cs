// Module start-up: what the NativeAOT runtime does before any managed code may touch a
// static of reference type. ILC describes the image in a ReadyToRun header (found via
// the __modules section); its GC-static region lists, as 32-bit self-relative pointers,
// one block per type with reference-type statics. Each block holds a self-relative
// pointer to the statics' MethodTable, tagged Uninitialized (bit 0) and, if the
// compiler preinitialised the statics, HasPreInitializedData (bit 1, followed by a
// self-relative pointer to the initial contents). We allocate the statics object and
// store its address in the block, which is what the generated code then reads.
using System.Runtime;
using System.Runtime.CompilerServices;
using Percy.Kernel;

namespace Internal.Runtime.CompilerHelpers
{
    internal static unsafe class StartupCodeHelpers
    {
        const uint ReadyToRunSignature = 0x00525452;     // "RTR"
        const int GCStaticRegionSection = 201;
        const int HeaderSize = 16;
        const nint Uninitialized = 1, HasPreInitializedData = 2, FlagMask = 3;

        [RuntimeImport("*", "percy_modules_section")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void** ModulesSection();

        static byte* Relative(int* p) => (byte*)p + *p;

        public static void InitializeModules()
        {
            byte* header = (byte*)*ModulesSection();
            if (*(uint*)header != ReadyToRunSignature) Panic.Fail("runtime: no ReadyToRun header");
            int sections = *(ushort*)(header + 12);
            int entrySize = header[14];
            for (int i = 0; i < sections; i++)
            {
                byte* entry = header + HeaderSize + i * entrySize;
                if (*(int*)entry != GCStaticRegionSection) continue;
                int* start = *(int**)(entry + 8);
                int* end = *(int**)(entry + 16);
                for (int* p = start; p < end; p++) InitializeStaticsBlock((nint*)Relative(p));
            }
        }

        static void InitializeStaticsBlock(nint* block)
        {
            nint tagged = *(int*)block;
            if ((tagged & Uninitialized) == 0) return;
            var mt = (MethodTable*)((byte*)block + (tagged & ~FlagMask));
            byte* obj = (byte*)Heap.Allocate(mt->BaseSize);
            *(MethodTable**)obj = mt;
            if ((tagged & HasPreInitializedData) != 0)
            {
                byte* data = Relative((int*)block + 1);
                ulong size = mt->BaseSize - (ulong)sizeof(void*);
                Memory.Move(obj + sizeof(void*), data, (nuint)size);
            }
            *block = (nint)obj;
        }
    }
}
