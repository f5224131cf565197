/* A module written in C, built by gcc: it must load like a C# one, and exercises the
 * relocations gcc emits for per-CPU data and calls (R_X86_64_32S, PLT32, 64, PC32).
 * Init runs on every online CPU (smp_call_function): each CPU counts the call in its copy
 * of this module's per-CPU variable and checks its copy of the kernel's per-CPU Magic.
 * Then it checks the counts through every CPU's global address. */
#include "percy_module.h"

PERCY_MODULE_INFO(description, "A C module: per-CPU data of its own and of the kernel, smp_call_function");
PERCY_MODULE_INFO(author, "Percy");
PERCY_MODULE_INFO(license, "MIT");

/* This module's: calls per CPU, exported (EXPORT_PER_CPU_SYMBOL) with its total. */
PERCY_DEFINE_PER_CPU(long, cmod_calls);
PERCY_EXPORT_PER_CPU_SYMBOL(cmod_calls);

/* The kernel's (kernel/percpu/PerCpuExamples.cs): 0x5045524359 on every CPU. */
PERCY_DECLARE_PER_CPU(long, Percy_Kernel_Percpu_PerCpuExamples__Magic);
#define KERNEL_MAGIC 0x5045524359L

static int wrong_magic;          /* CPUs whose copy of Magic was not KERNEL_MAGIC */

#define LINE_MAX 120

/* "text<value>" into line; returns its length. */
static unsigned long format(char *line, const char *text, long value)
{
    char digits[20];
    unsigned long n = 0, d = 0;
    unsigned long magnitude = value < 0 ? 0UL - (unsigned long)value : (unsigned long)value;
    while (*text && n < LINE_MAX - 22)
        line[n++] = *text++;
    if (value < 0)
        line[n++] = '-';
    do {
        digits[d++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude != 0);
    while (d > 0)
        line[n++] = digits[--d];
    return n;
}

static void log_value(int level, const char *text, long value)
{
    char line[LINE_MAX];
    percy_log(level, line, format(line, text, value));
}

static void count_here(void *unused)
{
    (void)unused;
    (*percy_this_cpu_ptr(cmod_calls))++;
    if (*percy_this_cpu_ptr(Percy_Kernel_Percpu_PerCpuExamples__Magic) != KERNEL_MAGIC)
        percy_atomic_add32(&wrong_magic, 1);
}

long cmod_total(void)
{
    long total = 0;
    for (int cpu = 0; cpu < percy_nr_cpu_ids(); cpu++)
        if (percy_cpu_possible(cpu))
            total += *percy_per_cpu_ptr(cmod_calls, cpu);
    return total;
}
PERCY_EXPORT_SYMBOL(cmod_total);

int percy_module_init(const char *args, unsigned long length)
{
    (void)args;
    if (length != 0) {
        log_value(PERCY_LOG_ERROR, "cmod: takes no parameters; argument bytes: ", (long)length);
        return -PERCY_EINVAL;
    }

    int error = percy_smp_call_function(PERCY_ALL_CPUS, count_here, 0, 1);
    if (error != 0)
        return error;

    int online = 0;
    for (int cpu = 0; cpu < percy_nr_cpu_ids(); cpu++)
        online += percy_cpu_online(cpu);
    if (cmod_total() != online || wrong_magic != 0) {
        log_value(PERCY_LOG_ERROR, "cmod: per-CPU counts or the kernel's Magic are wrong on CPUs: ", wrong_magic + (cmod_total() != online));
        return -PERCY_EIO;
    }
    log_value(PERCY_LOG_INFO, "cmod: counted a call on every online CPU, and the kernel's Magic was right on each: ", online);
    return 0;
}

void percy_module_exit(void)
{
    log_value(PERCY_LOG_INFO, "cmod: calls counted: ", cmod_total());
}
