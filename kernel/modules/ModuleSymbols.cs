// Where a module's undefined symbols come from: the kernel's exports (KernelExportTable,
// values from percy.elf's own symbol table, looked up once, at the first load: boot does
// not pay for a scan of every kernel symbol), else the exports of
// a loaded module, which becomes a dependency of the module being loaded: it cannot be
// unloaded while this one is loaded. Nothing else in the kernel is reachable.
namespace Percy.Kernel.Modules
{
    internal sealed unsafe class ModuleSymbols : SymbolResolver
    {
        static ulong* s_kernelValues;      // per KernelExportTable index
        static ulong s_kernelFound;        // bit per index (the table has fewer than 64): in percy.elf
        static string s_missing;           // the first export percy.elf lacks

        // A module can use every other loaded module, and no more.
        readonly Module[] _uses = new Module[ModuleList.Count];
        int _useCount;

        public int UseCount => _useCount;
        public Module Use(int i) => _uses[i];

        static void LookUpKernelExports(ElfSymbolTable kernel)
        {
            s_kernelValues = (ulong*)Heap.Allocate(KernelExportTable.Count * sizeof(ulong));
            for (int i = 0; i < KernelExportTable.Count; i++)
            {
                string name = KernelExportTable.At(i).Name;
                if (kernel.TryFind(name, out s_kernelValues[i])) s_kernelFound |= 1ul << i;
                else if (s_missing == null) s_missing = name;
            }
            if (s_missing != null) Log.Warn($"modules: warning: kernel export {s_missing} is not in percy.elf's symbol table; modules using it will not load");
        }

        public override bool Resolve(byte* name, int length, out ulong value, out bool perCpu)
        {
            if (s_kernelValues == null) LookUpKernelExports(Panic.SymbolTable);
            int k = KernelExportTable.Find(name, length);
            if (k >= 0 && (s_kernelFound & 1ul << k) != 0)
            {
                value = s_kernelValues[k];
                perCpu = KernelExportTable.At(k).Kind == KernelExportKind.PerCpu;
                return true;
            }
            Module owner = ModuleList.FindExport(name, length, out ModuleExport export);
            value = export.Value;
            perCpu = export.PerCpu;
            if (owner == null || owner.State == ModuleState.Going) return false;
            AddUse(owner);
            return true;
        }

        void AddUse(Module m)
        {
            for (int i = 0; i < _useCount; i++)
                if (_uses[i] == m) return;
            _uses[_useCount++] = m;
        }

        // The kernel has no garbage collector: the loader frees each resolver it made.
        public void Release()
        {
            Heap.FreeObject(_uses);
            Heap.FreeObject(this);
        }
    }
}
