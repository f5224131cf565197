// How a C# module describes itself. The build (build/ModuleGenerator.cs and
// build/PerCpuGenerator.cs) reads these attributes with Roslyn and generates the entry
// points, the parameter parser, the .modinfo and .percy_exports sections and the per-CPU
// accessors; the attributes themselves do nothing at run time. docs/modules.md.
using System;

namespace Percy.Module
{
    // MODULE_DESCRIPTION, MODULE_AUTHOR, MODULE_LICENSE: `[assembly: ModuleInfo(Description = "...", License = "MIT")]`.
    // The module's name is its folder's (modules/<name>/), as Linux takes it from the file name.
    [AttributeUsage(AttributeTargets.Assembly)]
    public sealed class ModuleInfoAttribute : Attribute
    {
        public string Description { get; set; }
        public string Author { get; set; }
        public string License { get; set; }
    }

    // module_init: `[ModuleInit] static int Init()`, run once after loading: 0, or a negative
    // errno (the module is then unloaded). At most one per module; without one, init succeeds.
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class ModuleInitAttribute : Attribute { }

    // module_exit: `[ModuleExit] static void Exit()`, run before unloading. At most one.
    [AttributeUsage(AttributeTargets.Method)]
    public sealed class ModuleExitAttribute : Attribute { }

    // module_param: a static field of type bool, int, uint, long, ulong or ModuleString, set
    // from `insmod NAME key=value ...` before Init runs. Its initializer (a constant) is the
    // default; a ModuleString's default is `Default`. The field's name is the key.
    [AttributeUsage(AttributeTargets.Field)]
    public sealed class ModuleParameterAttribute : Attribute
    {
        public ModuleParameterAttribute(string description) { }
        public string Default { get; set; }
    }

    // EXPORT_PER_CPU_SYMBOL: next to [DefinePerCpu], makes the variable's per_cpu__ symbol
    // usable by other modules. (Functions are exported by [RuntimeExport("name")].)
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class ExportPerCpuAttribute : Attribute { }

    // DECLARE_PER_CPU: a per-CPU variable defined by the kernel or another module, by its
    // symbol: `[DeclarePerCpu("per_cpu__...")] static partial ref long X { get; }`. Accessed
    // like one of the module's own; the type must be the definition's.
    [AttributeUsage(AttributeTargets.Property)]
    public sealed class DeclarePerCpuAttribute : Attribute
    {
        public DeclarePerCpuAttribute(string symbol) { }
    }
}
