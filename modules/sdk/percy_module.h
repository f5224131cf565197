/* Percy's module API for C: the C face of modules/sdk/KernelApi.cs (docs/modules.md).
 * ./build.sh modules compiles the .c files of modules/<name>/ with
 *   gcc -c -O2 -mcmodel=kernel -fno-pic -mno-red-zone -ffreestanding
 *       -fno-asynchronous-unwind-tables -fno-stack-protector -fcf-protection=none
 * and defines PERCY_LOCAL_WINDOW_BASE, PERCY_PER_CPU_BASE and PERCY_UNIT_STRIDE from the
 * kernel's own constants (kernel/percpu/PerCpuLayout.cs), so they are never restated here.
 * Every function below is a kernel export (kernel/modules/KernelExportTable.cs). */
#ifndef PERCY_MODULE_H
#define PERCY_MODULE_H

#if !defined(PERCY_LOCAL_WINDOW_BASE) || !defined(PERCY_PER_CPU_BASE) || !defined(PERCY_UNIT_STRIDE)
#error "build modules with ./build.sh modules: it passes the per-CPU address constants"
#endif

/* Entry points: a C module defines both. args: insmod's "key=value ..." text (not
 * NUL-terminated). Init returns 0 or a negative errno. */
int percy_module_init(const char *args, unsigned long length);
void percy_module_exit(void);

/* Strings in sections the loader reads from the file and does not load: .modinfo holds
 * "tag=text" (the build adds name=<folder>), .percy_exports the names other modules may use. */
#define PERCY_SECTION_STRING(section, text) \
    __asm__(".pushsection " section ",\"\",@progbits\n\t.asciz \"" text "\"\n\t.popsection")
#define PERCY_MODULE_INFO(tag, text) PERCY_SECTION_STRING(".modinfo", #tag "=" text)
#define PERCY_EXPORT_SYMBOL(symbol) PERCY_SECTION_STRING(".percy_exports", #symbol)

/* Per-CPU variables. The symbol per_cpu__<name> lives in .data..percpu (the template);
 * the loader resolves it, in this module and in any user, to the variable's offset in
 * every CPU's unit. So its "address" is that offset, and a copy is a constant away. */
#define PERCY_DEFINE_PER_CPU(type, name) \
    __attribute__((section(".data..percpu"))) __typeof__(type) per_cpu__##name
#define PERCY_DECLARE_PER_CPU(type, name) extern __typeof__(type) per_cpu__##name
#define PERCY_EXPORT_PER_CPU_SYMBOL(name) PERCY_EXPORT_SYMBOL(per_cpu__##name)
#define percy_per_cpu_offset(name) ((unsigned long)&per_cpu__##name)
/* this_cpu_ptr: the running CPU's copy, through its local window. Never hand it to another CPU. */
#define percy_this_cpu_ptr(name) \
    ((__typeof__(per_cpu__##name) *)(PERCY_LOCAL_WINDOW_BASE + percy_per_cpu_offset(name)))
/* per_cpu_ptr: CPU cpu's copy at its global address. */
#define percy_per_cpu_ptr(name, cpu) \
    ((__typeof__(per_cpu__##name) *)(PERCY_PER_CPU_BASE + (unsigned long)(cpu) * PERCY_UNIT_STRIDE + percy_per_cpu_offset(name)))

/* Linux's errno values; init returns them negated. */
enum { PERCY_ENOENT = 2, PERCY_EIO = 5, PERCY_EBUSY = 16, PERCY_EINVAL = 22 };

/* The kernel log: one line of ASCII text (bytes, length), at a syslog level. */
enum { PERCY_LOG_ERROR = 3, PERCY_LOG_WARNING = 4, PERCY_LOG_INFO = 6 };
void percy_log(int level, const char *text, unsigned long length);
void percy_panic(const char *text, unsigned long length) __attribute__((noreturn));

/* CPUs: possible ones are 0 .. nr_cpu_ids-1, each with a per-CPU unit. */
int percy_this_cpu_number(void);
int percy_nr_cpu_ids(void);
int percy_num_possible_cpus(void);
int percy_cpu_possible(int cpu);
int percy_cpu_online(int cpu);

/* fn(arg) on cpu, or on every online CPU (the caller too) with PERCY_ALL_CPUS, with
 * interrupts off; wait != 0 returns when all are done. 0, or -PERCY_EINVAL. */
enum { PERCY_ALL_CPUS = -1 };
int percy_smp_call_function(int cpu, void (*fn)(void *), void *arg, int wait);

/* Locked operations on 32-bit words, and the spin-wait hint. */
int percy_atomic_add32(int *p, int delta);                    /* the new value */
int percy_atomic_xchg32(int *p, int value);                   /* the old value */
int percy_atomic_cmpxchg32(int *p, int expected, int value);  /* the old value */
void percy_pause(void);

/* References to another module (per-CPU counts, summed by module_refcount). */
struct percy_module;
struct percy_module *percy_find_module(const char *name, unsigned long length);
int percy_try_module_get(struct percy_module *module);       /* 1, or 0 once it is going */
void percy_module_put(struct percy_module *module);
long percy_module_refcount(struct percy_module *module);

/* What gcc may call in freestanding code. */
void *memset(void *dst, int value, unsigned long size);
void *memcpy(void *dst, const void *src, unsigned long size);
void *memmove(void *dst, const void *src, unsigned long size);
int memcmp(const void *a, const void *b, unsigned long size);

#endif
