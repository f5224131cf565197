// Shell: `percpu` shows the first chunk's layout (the boot log line) and, per possible
// CPU, where its unit lives and how many of the unit's pages are mapped — the memory
// per-CPU data really costs, which only grows when something is stored there.
using Percy.Kernel.Mm;
using Percy.Kernel.Shell;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class PerCpuCommands
    {
        const ulong Page = AddressSpace.PageSize;

        public static void Register() =>
            Shell.Shell.Register("percpu", "percpu", "per-CPU units: the layout, each CPU's unit base and mapped pages", &ShowUnits);

        static void ShowUnits(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            PerCpuUnitLayout layout = FirstChunk.Layout;
            Console.Console.WriteLine(layout.FormatLine());
            Console.Console.WriteLine($"this cpu's unit is also at 0x{PerCpuLayout.LocalBase:x16} (the local window)");
            Console.Console.WriteLine($"{"cpu",4} {"unit base",-18} {"mapped pages",12}");
            for (int cpu = 0; cpu < layout.Units; cpu++)
                Console.Console.WriteLine($"{cpu,4} 0x{layout.UnitBase(cpu):x16} {MappedPages(layout.UnitBase(cpu), layout.UnitVm),12}");
        }

        static ulong MappedPages(ulong start, ulong size)
        {
            ulong mapped = 0;
            for (ulong va = start; va < start + size; va += Page)
                if (KernelPageTables.Kernel.Translate(va, out _, out _)) mapped++;
            return mapped;
        }
    }
}
