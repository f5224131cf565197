// The loaded modules, newest first (what lsmod prints), and the lookups other code makes:
// by name (percy_find_module, insmod's duplicate check) and by export name (the loader's
// symbol resolution). A spinlock guards the list because percy_find_module may be called
// on any CPU, from a module's init or from an smp_call_function callback; loading and
// unloading themselves are serialised by the shell, which runs them on one CPU.
using Percy.Kernel.Smp;

namespace Percy.Kernel.Modules
{
    internal static unsafe class ModuleList
    {
        static Module s_first;
        static int s_count;
        static int s_lock;

        public static int Count => s_count;
        public static Module First => s_first;

        static int* Lock { get { fixed (int* l = &s_lock) return l; } }

        public static void Add(Module m)
        {
            ulong flags = SpinLock.LockIrqSave(Lock);
            m.Next = s_first;
            s_first = m;
            s_count++;
            SpinLock.UnlockIrqRestore(Lock, flags);
        }

        public static void Remove(Module m)
        {
            ulong flags = SpinLock.LockIrqSave(Lock);
            if (s_first == m) s_first = m.Next;
            else
                for (Module p = s_first; p != null; p = p.Next)
                    if (p.Next == m)
                    {
                        p.Next = m.Next;
                        break;
                    }
            s_count--;
            m.Next = null;
            SpinLock.UnlockIrqRestore(Lock, flags);
        }

        public static Module Find(byte* name, int length)
        {
            ulong flags = SpinLock.LockIrqSave(Lock);
            Module m = s_first;
            while (m != null && !m.Name.Is(name, length)) m = m.Next;
            SpinLock.UnlockIrqRestore(Lock, flags);
            return m;
        }

        // The loaded module exporting this name, with the export; null if none does.
        public static Module FindExport(byte* name, int length, out ModuleExport export)
        {
            export = default;
            ulong flags = SpinLock.LockIrqSave(Lock);
            Module m = s_first;
            while (m != null && !m.FindExport(name, length, out export)) m = m.Next;
            SpinLock.UnlockIrqRestore(Lock, flags);
            return m;
        }

        // struct percy_module *percy_find_module(const char *name, u64 length): valid while
        // that module is loaded; hold a reference (percy_try_module_get) to keep it so.
        [System.Runtime.RuntimeExport("percy_find_module")]
        static ModuleRefcount* FindModule(byte* name, ulong length)
        {
            if (name == null || length > ModuleName.Capacity) return null;
            Module m = Find(name, (int)length);
            return m == null ? null : m.Refcount;
        }
    }
}
