// The kernel API a C# module may call. Every function here is a direct call to a symbol
// the kernel exports (kernel/modules/KernelExportTable.cs): [RuntimeImport] leaves an
// undefined symbol in the .kmod that the loader resolves. Nothing else of the kernel is
// reachable from a module. C modules have the same API in percy_module.h.
// (KernelApi, not Kernel: in a namespace under Percy, `Kernel` names Percy.Kernel.)
using System.Runtime;
using System.Runtime.CompilerServices;
using Percy.Kernel;

namespace Percy.Module
{
    // Linux's errno values; a module's init returns one negated (e.g. -Errno.EINVAL).
    public static class Errno
    {
        public const int ENOENT = 2;
        public const int EIO = 5;
        public const int ENOEXEC = 8;
        public const int EBUSY = 16;
        public const int EINVAL = 22;
    }

    // Another module, found by name; the loader defines what it points to.
    public readonly unsafe struct ModuleRef
    {
        readonly void* _module;

        public ModuleRef(void* module) => _module = module;
        public bool IsNull => _module == null;
        public void* Pointer => _module;
    }

    public static unsafe class KernelApi
    {
        // SmpCallFunction's cpu for "every online CPU, the caller included".
        public const int AllCpus = -1;

        // Log levels, as syslog numbers them (kernel/Log.cs); emergency means a panic.
        const int LevelPanic = 0, LevelError = 3, LevelWarning = 4, LevelInfo = 6;

        [RuntimeImport("*", "percy_log")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void LogBytes(int level, byte* text, ulong length);

        [RuntimeImport("*", "percy_panic")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void PanicBytes(byte* text, ulong length);

        // One line in the kernel log, prefixed with the module's name: `hello: text`.
        public static void Log(TextLine text) => Send(LevelInfo, text);
        public static void Warn(TextLine text) => Send(LevelWarning, text);
        public static void Error(TextLine text) => Send(LevelError, text);

        // Stops the machine with a message; does not return.
        public static void Panic(TextLine text) => Send(LevelPanic, text);

        static void Send(int level, TextLine text)
        {
            TextLine line = $"{ThisModule.Name}: ";
            line.AppendFormatted(text);
            byte* bytes = stackalloc byte[TextLine.Capacity];
            line.CopyTo(bytes);
            if (level == LevelPanic) PanicBytes(bytes, (ulong)line.Length);
            else LogBytes(level, bytes, (ulong)line.Length);
        }

        // For the generated parameter setter: logs why an insmod argument is refused and
        // returns the negated errno for init to return.
        public static int RefuseArgument(in ModuleArgument argument, string problem, int errno)
        {
            TextLine line = $"parameter '";
            line.AppendBytes(argument.Key, argument.KeyLength);
            line.AppendLiteral("': ");
            line.AppendLiteral(problem);
            Error(line);
            return -errno;
        }

        // CPUs. Possible CPUs are 0 .. NrCpuIds-1 (each has a per-CPU unit); online ones run.
        [RuntimeImport("*", "percy_this_cpu_number")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int ThisCpuNumber();
        [RuntimeImport("*", "percy_nr_cpu_ids")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int NrCpuIdsImport();
        [RuntimeImport("*", "percy_num_possible_cpus")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int NumPossibleCpusImport();
        [RuntimeImport("*", "percy_cpu_possible")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int CpuPossibleImport(int cpu);
        [RuntimeImport("*", "percy_cpu_online")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int CpuOnlineImport(int cpu);

        public static int ThisCpu => ThisCpuNumber();
        public static int NrCpuIds => NrCpuIdsImport();
        public static int NumPossibleCpus => NumPossibleCpusImport();
        public static bool CpuPossible(int cpu) => CpuPossibleImport(cpu) != 0;
        public static bool CpuOnline(int cpu) => CpuOnlineImport(cpu) != 0;

        // fn(arg) on `cpu` (or AllCpus), in an interrupt handler with interrupts off: fn must
        // be short and must not call SmpCallFunction itself. With wait, returns once every
        // target has run fn. 0, or -EINVAL if `cpu` is not online.
        [RuntimeImport("*", "percy_smp_call_function")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int SmpCallFunctionImport(int cpu, delegate*<void*, void> fn, void* arg, int wait);

        public static int SmpCallFunction(int cpu, delegate*<void*, void> fn, void* arg, bool wait)
            => SmpCallFunctionImport(cpu, fn, arg, wait ? 1 : 0);

        // Locked read-modify-writes on 32-bit words that do not move (statics, per-CPU data).
        [RuntimeImport("*", "percy_atomic_add32")] [MethodImpl(MethodImplOptions.InternalCall)]
        public static extern int AtomicAdd(int* p, int delta);                          // the new value
        [RuntimeImport("*", "percy_atomic_xchg32")] [MethodImpl(MethodImplOptions.InternalCall)]
        public static extern int AtomicExchange(int* p, int value);                     // the old value
        [RuntimeImport("*", "percy_atomic_cmpxchg32")] [MethodImpl(MethodImplOptions.InternalCall)]
        public static extern int AtomicCompareExchange(int* p, int expected, int value); // the old value
        // The spin-wait hint (x86 pause).
        [RuntimeImport("*", "percy_pause")] [MethodImpl(MethodImplOptions.InternalCall)]
        public static extern void Pause();

        // References to another module (seed 004): per-CPU counters, so a get and a put on
        // different CPUs cost no shared cache line. Provided by the module loader.
        [RuntimeImport("*", "percy_find_module")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void* FindModuleImport(byte* name, ulong length);
        [RuntimeImport("*", "percy_try_module_get")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern int TryModuleGetImport(void* module);
        [RuntimeImport("*", "percy_module_put")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void ModulePutImport(void* module);
        [RuntimeImport("*", "percy_module_refcount")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern long ModuleRefcountImport(void* module);

        // The loaded module of that name; IsNull if there is none.
        public static ModuleRef FindModule(byte* name, int length) => new(FindModuleImport(name, (ulong)length));
        // Takes a reference on this CPU; false once the module is going away.
        public static bool TryModuleGet(ModuleRef module) => TryModuleGetImport(module.Pointer) != 0;
        // Drops a reference (on any CPU: the counts are summed).
        public static void ModulePut(ModuleRef module) => ModulePutImport(module.Pointer);
        // The sum of the module's per-CPU counts.
        public static long ModuleRefcount(ModuleRef module) => ModuleRefcountImport(module.Pointer);
    }
}
