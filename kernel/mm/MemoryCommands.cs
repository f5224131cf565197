// `mem`: the memory map as the kernel saw it, normalised, with totals.
using Percy.Kernel.Multiboot;
using Percy.Kernel.Shell;

namespace Percy.Kernel.Mm
{
    internal static unsafe class MemoryCommands
    {
        // Normalised once per command from the boot map; allocated once (the boot heap never frees).
        static MemoryRegion[] s_regions;
        static ulong[] s_scratch;

        public static void Register() =>
            Shell.Shell.Register("mem", "mem", "show the memory map and memory use", &Mem);

        static void Mem(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            BootInformation info = Boot.Information;
            if (s_regions == null)
            {
                s_regions = new MemoryRegion[2 * BootInformation.MaxMemoryRegions];
                s_scratch = new ulong[2 * BootInformation.MaxMemoryRegions];
            }
            MemoryRegion[] regions = s_regions;
            int n = MemoryMapNormalizer.Normalize(info.MemoryMap, info.MemoryMapCount, regions, s_scratch, null,
                                                  out ulong usable, out string error);
            if (n < 0)
            {
                Shell.Shell.Error(args, error);
                return;
            }
            Console.Console.WriteLine("memory map (normalised):");
            for (int i = 0; i < n; i++)
            {
                MemoryRegion r = regions[i];
                Console.Console.WriteLine($"  [mem {r.Base:x16}-{r.Base + r.Length - 1:x16}] {TypeName(r.Type),-16} {r.Length / 1024,10} KiB");
            }
            Console.Console.WriteLine($"usable: {usable / 1024} KiB in {n} regions");
            Console.Console.WriteLine($"boot heap: {Heap.Used / 1024} KiB of {Heap.Size / 1024} KiB used");
        }

        static string TypeName(uint type) => type switch
        {
            MemoryRegionType.Available => "usable",
            MemoryRegionType.AcpiReclaimable => "ACPI data",
            MemoryRegionType.AcpiNvs => "ACPI NVS",
            MemoryRegionType.BadMemory => "unusable",
            _ => "reserved",
        };
    }
}
