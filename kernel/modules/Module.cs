// A loaded module (Linux's struct module): where its image is, its per-CPU section, its
// reference count, what it exports and which modules it uses. Made by ModuleLoader.Load,
// listed by ModuleList, freed to the last byte by ModuleLoader.Unload.
namespace Percy.Kernel.Modules
{
    internal enum ModuleState
    {
        Coming,     // linked, init running
        Live,
        Going,      // exit running, or being torn down after a failed init
    }

    // A module's name, from its .modinfo (`name=`): Linux's MODULE_NAME_LEN.
    internal unsafe struct ModuleName
    {
        public const int Capacity = 56;

        fixed byte _bytes[Capacity];
        int _length;

        public int Length => _length;

        // Lower-case letters, digits and '_', 1 to Capacity bytes (what the build gives a
        // module folder). Null, or why not.
        public static string Validate(byte* name, int length)
        {
            if (length == 0) return "empty module name";
            if (length > Capacity) return "module name longer than 56 bytes";
            for (int i = 0; i < length; i++)
            {
                byte c = name[i];
                if (!(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_'))
                    return "module names use only a-z, 0-9 and _";
            }
            return null;
        }

        public void Set(byte* name, int length)
        {
            _length = length < Capacity ? length : Capacity;
            fixed (byte* b = _bytes)
                for (int i = 0; i < _length; i++) b[i] = name[i];
        }

        public bool Is(byte* name, int length)
        {
            fixed (byte* b = _bytes) return length == _length && Memory.Compare(b, name, (nuint)length) == 0;
        }

        public void AppendTo(ref TextLine line)
        {
            fixed (byte* b = _bytes) line.AppendBytes(b, _length);
        }
    }

    // One of a module's exports: a function's or object's address, or a per-CPU variable's
    // offset in every unit. Name points into the module's export block (Module.Exports).
    internal unsafe struct ModuleExport
    {
        public byte* Name;
        public int Length;
        public ulong Value;
        public bool PerCpu;
    }

    internal sealed unsafe class Module
    {
        public ModuleName Name;
        public ModuleState State;
        public ModuleRefcount* Refcount;            // heap; handed to other modules as struct percy_module *
        public bool HasRefcount;                    // Refcount->Counter is allocated

        public ulong ImageBase, ImageSize;          // mapped bytes, W^X regions, guard page not counted
        public ulong PerCpuHandle, PerCpuSize;      // PerCpuSize 0: no per-CPU section, nothing allocated

        public delegate*<byte*, ulong, int> Init;   // percy_module_init(args, length)
        public delegate*<void> Exit;                // percy_module_exit()

        // Exports: ExportCount entries, then their names, in one heap block.
        public ModuleExport* Exports;
        public int ExportCount;

        public Module[] Uses;                       // modules whose exports this one uses (dependencies)
        public int UsedBy;                          // loaded modules that use this one

        public byte* File;                          // the .kmod (a boot module: never freed), for modinfo
        public ulong FileLength;

        public Module Next;                         // ModuleList

        public bool FindExport(byte* name, int length, out ModuleExport export)
        {
            for (int i = 0; i < ExportCount; i++)
            {
                ModuleExport e = Exports[i];
                if (e.Length != length || Memory.Compare(e.Name, name, (nuint)length) != 0) continue;
                export = e;
                return true;
            }
            export = default;
            return false;
        }
    }
}
