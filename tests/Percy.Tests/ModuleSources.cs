// Sources of the test modules (compiled by gcc and NASM in the tests) and the kernel
// addresses their undefined symbols resolve to.
using System.Collections.Generic;
using Percy.Tests.Support;

namespace Percy.Tests;

public static class ModuleSources
{
    public const ulong ImageBase = 0xFFFFFFFFC0000000;     // within 2 GiB of the kernel
    public const ulong KernelBase = 0xFFFFFFFF81000000;
    public const ulong PerCpuOffset = 0x3000;

    // Every kind of reference a C module makes: calls and data of the kernel, local and
    // global data, bss, read-only data, pointers in data, a weak undefined symbol, per-CPU
    // data (read from code and holding a pointer), a function pointer.
    public const string C = @"
extern int ext_counter;
extern void ext_func(int);
extern char ext_buf[];
extern __attribute__((weak)) int weak_thing;
static int local_data = 5;
int global_data[4] = {1, 2, 3, 4};
int *ptr = &local_data;
void (*fp)(int) = ext_func;
char *buf_end = ext_buf + 100;
__attribute__((section("".data..percpu""))) int pcpu_var = 7;
__attribute__((section("".data..percpu""))) int *pcpu_ptr = &global_data[1];
int bss_thing[100];
const char msg[] = ""hello, module"";
static const long table[3] = { 10, 20, 30 };
long pick(int i) { return table[i & 1] + i; }
int f(int x)
{
    ext_func(x + local_data + ext_counter);
    ext_buf[3] = 1;
    bss_thing[x] = 2;
    if (&weak_thing) x += weak_thing;
    return global_data[x] + msg[x] + *ptr + pcpu_var;
}
int init_module(void) { fp(1); return f(2) + (int)pick(3); }
";

    // Direct and PLT calls, RIP-relative data with an addend, absolute 32S/32 (a per-CPU
    // offset, which fits), 64 and PC64 in read-only data, PC32 in data, a per-CPU section
    // with a pointer in it.
    public const string Nasm = @"
bits 64
extern ext_func, ext_counter
section .text
global entry
entry:
    call ext_func
    call ext_func wrt ..plt
    mov eax, [rel ext_counter + 8]
    mov eax, [gs:pcpu_a]
    mov ecx, pcpu_b
    lea rdx, [rel table - 16]
    ret
section .rodata align=16
table:
    dq entry
    dq ext_func - $
    dq counter + 0x20
    dd entry - $
section .data
counter: dd 0
    dd pcpu_b
    dq -1
section .data..percpu progbits alloc write noexec align=64
pcpu_a: dq 1
pcpu_b: dq counter
";

    public static string Gcc(string variant) => variant switch
    {
        "kernel" => ModuleToolchain.Gcc("mod_kernel", C, ModuleToolchain.KernelFlags + " -mcmodel=kernel -fno-pic"),
        "kernel-g" => ModuleToolchain.Gcc("mod_kernel_g", C, ModuleToolchain.KernelFlags + " -mcmodel=kernel -fno-pic -g"),
        "pic" => ModuleToolchain.Gcc("mod_pic", C, ModuleToolchain.KernelFlags + " -fpic -fno-plt"),
        "pic-norelax" => ModuleToolchain.Gcc("mod_pic_norelax", C, ModuleToolchain.KernelFlags + " -fpic -Wa,-mrelax-relocations=no"),
        "large" => ModuleToolchain.Gcc("mod_large", C, ModuleToolchain.KernelFlags + " -mcmodel=large -fno-pic"),
        _ => throw new System.ArgumentException(variant),
    };

    public static string NasmObject() => ModuleToolchain.Nasm("mod_nasm", Nasm);

    public static Dictionary<string, ulong> KernelSymbols() => new()
    {
        ["ext_func"] = KernelBase + 0x100,
        ["ext_counter"] = KernelBase + 0x2000,
        ["ext_buf"] = KernelBase + 0x3000,
    };

    public static DictionaryResolver Resolver(IEnumerable<KeyValuePair<string, ulong>> symbols)
    {
        var r = new DictionaryResolver();
        foreach (var kv in symbols) r.Add(kv.Key, kv.Value);
        return r;
    }
}
