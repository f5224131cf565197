// Linux's side of the benchmark's instruction counts (./build.sh bench, build/Disassembly.cs):
// what a this-CPU increment and a remote per-CPU address computation compile to in module
// code, built against Debian's 6.1 headers. The counterparts of Percy's
// percpu_probe_this_cpu_inc and percpu_probe_per_cpu_addr (kernel/percpu/PerCpuProbes.cs).
// noinline and exported, so each is a function of its own that objdump can show.
#include <linux/module.h>
#include <linux/percpu.h>

static DEFINE_PER_CPU(long, probe_counter);

noinline void percpu_ops_this_cpu_inc(void)
{
	this_cpu_inc(probe_counter);
}
EXPORT_SYMBOL(percpu_ops_this_cpu_inc);

noinline long *percpu_ops_per_cpu_ptr(int cpu)
{
	return per_cpu_ptr(&probe_counter, cpu);
}
EXPORT_SYMBOL(percpu_ops_per_cpu_ptr);

static int __init percpu_ops_init(void) { return 0; }
static void __exit percpu_ops_exit(void) {}
module_init(percpu_ops_init);
module_exit(percpu_ops_exit);
MODULE_LICENSE("GPL");
