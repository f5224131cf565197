// The kernel's symbols that modules may use: the one list the module loader consults when
// it resolves a module's undefined symbols (Linux's EXPORT_SYMBOL table). Anything else in
// percy.elf is private: a module that needs it does not load. docs/modules.md has the ABI.
//
// The loader takes each name's value from the kernel's own ELF symbol table (Multiboot2
// tag 9, already read for panic call traces): a function's or data object's address, and
// for a per-CPU variable its offset in every CPU's unit (.data..percpu is linked at 0).
//
// Checked three ways: the build fails if a name is missing from
// percy.elf (build/KernelExportCheck.cs) or if a module needs a symbol that is neither
// here nor exported by another module (build/ModulesBuild.cs); the host test
// ModuleObjectTests reads the produced .kmod files and checks the same.
//
// A table of strings cannot be a static array here: the kernel runs no class constructors,
// and ILC does not preinitialise an array of structs holding strings. So entries come
// from a switch on the index, which compiles to constants.
// Pure logic: compiled into the kernel, the host tests and the build driver.
namespace Percy.Kernel.Modules
{
    public enum KernelExportKind
    {
        Function,       // C ABI (System V AMD64): arguments in rdi, rsi, rdx, rcx, r8, r9
        Data,           // a data object; its address
        PerCpu,         // a per-CPU variable: its offset in every CPU's unit
    }

    public readonly struct KernelExport
    {
        public readonly string Name;
        public readonly KernelExportKind Kind;
        public KernelExport(string name, KernelExportKind kind)
        {
            Name = name;
            Kind = kind;
        }

        public bool IsValid => Name != null;
    }

    public static unsafe class KernelExportTable
    {
        public const int Count = 34;

        // The entry at index (0 <= index < Count); an invalid entry beyond.
        public static KernelExport At(int index) => index switch
        {
            // The kernel API (kernel/modules/KernelExports.cs and the asm routines named here).
            0 => new("percy_log", KernelExportKind.Function),
            1 => new("percy_panic", KernelExportKind.Function),
            2 => new("percy_this_cpu_number", KernelExportKind.Function),      // trampoline.asm: gs:[8]
            3 => new("percy_nr_cpu_ids", KernelExportKind.Function),
            4 => new("percy_num_possible_cpus", KernelExportKind.Function),
            5 => new("percy_cpu_possible", KernelExportKind.Function),
            6 => new("percy_cpu_online", KernelExportKind.Function),
            7 => new("percy_smp_call_function", KernelExportKind.Function),
            8 => new("percy_atomic_add32", KernelExportKind.Function),         // trampoline.asm
            9 => new("percy_atomic_xchg32", KernelExportKind.Function),        // trampoline.asm
            10 => new("percy_atomic_cmpxchg32", KernelExportKind.Function),    // trampoline.asm
            11 => new("percy_pause", KernelExportKind.Function),               // cpu.asm

            // Module references (seed 004): ModuleList.cs and ModuleRefcount.cs.
            12 => new("percy_find_module", KernelExportKind.Function),
            13 => new("percy_try_module_get", KernelExportKind.Function),
            14 => new("percy_module_put", KernelExportKind.Function),
            15 => new("percy_module_refcount", KernelExportKind.Function),

            // What gcc may call in freestanding code (a C module): KernelExports.cs.
            16 => new("memset", KernelExportKind.Function),
            17 => new("memcpy", KernelExportKind.Function),
            18 => new("memmove", KernelExportKind.Function),
            19 => new("memcmp", KernelExportKind.Function),

            // The runtime contract of ILC-compiled code (kernel/runtime/KernelRuntime.cs,
            // kernel/arch/x86_64/runtime.asm): a C# module calls the kernel's helpers rather
            // than carrying copies, so there is one allocator and one stack canary.
            20 => new("RhpNewFast", KernelExportKind.Function),
            21 => new("RhpNewFinalizable", KernelExportKind.Function),
            22 => new("RhpNewArrayFast", KernelExportKind.Function),
            23 => new("RhpNewPtrArrayFast", KernelExportKind.Function),
            24 => new("RhNewString", KernelExportKind.Function),
            25 => new("RhpAssignRef", KernelExportKind.Function),
            26 => new("RhpCheckedAssignRef", KernelExportKind.Function),
            27 => new("RhpReversePInvoke", KernelExportKind.Function),
            28 => new("RhpReversePInvokeReturn", KernelExportKind.Function),
            29 => new("RhpGcPoll", KernelExportKind.Function),
            30 => new("RhpFallbackFailFast", KernelExportKind.Function),
            31 => new("RhpStackProbe", KernelExportKind.Function),
            32 => new("__security_cookie", KernelExportKind.Data),

            // Per-CPU variables (kernel/percpu/PerCpuExamples.cs): Magic holds 0x5045524359 on
            // every CPU, so a module can prove it reaches the kernel's per-CPU data.
            33 => new("per_cpu__Percy_Kernel_Percpu_PerCpuExamples__Magic", KernelExportKind.PerCpu),
            _ => default,
        };

        // The index of the export named by the `length` bytes at `name` (not NUL-terminated,
        // as the loader finds them in a module's string table), or -1.
        public static int Find(byte* name, int length)
        {
            for (int i = 0; i < Count; i++)
            {
                string candidate = At(i).Name;
                if (candidate.Length != length) continue;
                int k = 0;
                while (k < length && candidate[k] == name[k]) k++;
                if (k == length) return i;
            }
            return -1;
        }
    }
}
