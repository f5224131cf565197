// Shell: `cpus` lists every possible CPU.
using Percy.Kernel.Arch;
using Percy.Kernel.Percpu;
using Percy.Kernel.Shell;

namespace Percy.Kernel.Smp
{
    internal static unsafe class SmpCommands
    {
        public static void Register() =>
            Shell.Shell.Register("cpus", "cpus", "list CPUs: logical id, APIC id, state, per-CPU unit base, stack", &ListCpus);

        static void ListCpus(ShellArguments* args)
        {
            if (!Shell.Shell.NoArguments(args)) return;
            Console.Console.WriteLine($"{Cpus.OnlineCount} online, {Cpus.PresentCount} present, {Cpus.PossibleCount} possible, nr_cpu_ids={Cpus.NrCpuIds}, {(Apic.X2ApicMode ? "x2APIC" : "xAPIC")}, this cpu {Cpus.ThisCpu}");
            Console.Console.WriteLine($"{"cpu",4} {"apic",5}  {"state",-11} {"percpu",-18} stack");
            for (int cpu = 0; cpu < Cpus.NrCpuIds; cpu++)
            {
                PerCpu* p = Cpus.Area(cpu);
                if (p == null || !Cpus.Possible.Has(cpu)) continue;
                TextLine line = $"{cpu,4} {p->ApicId,5}  {Cpus.StateName(p->State),-11} 0x{PerCpuLayout.UnitBase(cpu):x16} ";
                if (p->StackTop != 0) line.AppendFormatted($"0x{p->StackBottom:x16}-0x{p->StackTop:x16}");
                else line.AppendLiteral("-");
                Console.Console.WriteLine(line);
            }
        }
    }
}
