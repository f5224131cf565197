; Instructions C# cannot express. Each routine follows the SysV ABI:
; arguments in rdi, rsi, rdx; result in rax.
bits 64
section .text

global percy_outb, percy_outw, percy_outl, percy_inb, percy_inw, percy_inl
percy_outb:             ; (port, value)
    mov edx, edi
    mov eax, esi
    out dx, al
    ret
percy_outw:
    mov edx, edi
    mov eax, esi
    out dx, ax
    ret
percy_outl:
    mov edx, edi
    mov eax, esi
    out dx, eax
    ret
percy_inb:              ; (port) -> value
    mov edx, edi
    xor eax, eax
    in al, dx
    ret
percy_inw:
    mov edx, edi
    xor eax, eax
    in ax, dx
    ret
percy_inl:
    mov edx, edi
    in eax, dx
    ret

global percy_rdtsc
percy_rdtsc:            ; () -> 64-bit time stamp counter
    rdtsc
    shl rdx, 32
    or rax, rdx
    ret

global percy_rdmsr, percy_wrmsr
percy_rdmsr:            ; (msr) -> value
    mov ecx, edi
    rdmsr
    shl rdx, 32
    or rax, rdx
    ret
percy_wrmsr:            ; (msr, value)
    mov ecx, edi
    mov eax, esi
    mov rdx, rsi
    shr rdx, 32
    wrmsr
    ret

global percy_cpuid
percy_cpuid:            ; (leaf, subleaf, uint32 out[4]: eax, ebx, ecx, edx)
    push rbx
    mov r8, rdx
    mov eax, edi
    mov ecx, esi
    cpuid
    mov [r8], eax
    mov [r8 + 4], ebx
    mov [r8 + 8], ecx
    mov [r8 + 12], edx
    pop rbx
    ret

global percy_read_cr0, percy_read_cr2, percy_read_cr3, percy_read_cr4, percy_write_cr3, percy_invlpg
percy_read_cr0:
    mov rax, cr0
    ret
percy_read_cr2:
    mov rax, cr2
    ret
percy_read_cr3:
    mov rax, cr3
    ret
percy_read_cr4:
    mov rax, cr4
    ret
percy_write_cr3:
    mov cr3, rdi
    ret
percy_invlpg:           ; (virtual address): drop its TLB entry on this CPU
    invlpg [rdi]
    ret

global percy_read_rbp, percy_read_rsp
percy_read_rbp:         ; the caller's frame pointer, for stack traces
    mov rax, rbp
    ret
percy_read_rsp:
    lea rax, [rsp + 8]
    ret

global percy_halt, percy_cli, percy_sti, percy_wait_for_interrupt, percy_pause
percy_halt:
    hlt
    ret
percy_cli:
    cli
    ret
percy_sti:
    sti
    ret
; sti takes effect after the next instruction, so an interrupt that arrives between
; the caller's check and hlt still wakes us: the check-then-sleep race is closed.
percy_wait_for_interrupt:
    sti
    hlt
    cli
    ret
percy_pause:
    pause
    ret


section .text
extern __kernel_start, __text_start, __text_end, __rodata_start, __rodata_end
extern __data_start, __bss_start, __kernel_end, kernel_stack_guard
extern __per_cpu_load, __per_cpu_start, __per_cpu_end
global percy_kernel_layout
percy_kernel_layout:    ; (KernelLayout* out): the linker's section boundaries
    lea rax, [rel __kernel_start]
    mov [rdi], rax
    lea rax, [rel __text_start]
    mov [rdi + 8], rax
    lea rax, [rel __text_end]
    mov [rdi + 16], rax
    lea rax, [rel __rodata_start]
    mov [rdi + 24], rax
    lea rax, [rel __rodata_end]
    mov [rdi + 32], rax
    lea rax, [rel __data_start]
    mov [rdi + 40], rax
    lea rax, [rel __bss_start]
    mov [rdi + 48], rax
    lea rax, [rel __kernel_end]
    mov [rdi + 56], rax
    lea rax, [rel kernel_stack_guard]
    mov [rdi + 64], rax
    ; The per-CPU section is linked at 0 (its symbols are offsets in a unit): absolute
    ; 64-bit values, since 0 is out of RIP-relative reach of the kernel at -2 GiB.
    mov rax, __per_cpu_load
    mov [rdi + 72], rax
    mov rax, __per_cpu_start
    mov [rdi + 80], rax
    mov rax, __per_cpu_end
    mov [rdi + 88], rax
    lea rax, [rel __per_cpu_offset]
    mov [rdi + 96], rax
    lea rax, [rel __per_cpu_offset_end]
    mov [rdi + 104], rax
    ret

; Linux's __per_cpu_offset[cpu]: the distance from a per-CPU symbol's value to CPU cpu's
; copy, for code that wants Linux's form (C modules, asm). Percy's own C# never loads it:
; the same value is a constant expression (PerCpuLayout.UnitBase). FirstChunk fills it.
section .bss nobits alloc noexec write align=8
global __per_cpu_offset
__per_cpu_offset:
    resq 256                    ; PerCpuLayout.MaxUnits (FirstChunk checks the room)
__per_cpu_offset_end:
section .text

; Memory probes for self-tests: accesses that may fault. The page-fault handler
; (FaultProbe.cs) recognises a fault at probe_read_access or probe_write_access, or a
; fetch fault at the target of probe_execute, and resumes with rax = 1 — the
; exception-table idea.
section .text
global percy_probe_write, percy_probe_execute, percy_probe_sites
percy_probe_write:      ; (address) -> 0 if the byte there was read and written back, 1 if that faulted
    xor eax, eax
probe_read_access:
    mov sil, [rdi]
probe_write_access:
    mov [rdi], sil
    ret
probe_write_fixup:
    mov eax, 1
    ret
percy_probe_execute:    ; (address) -> 0 if the code there returned, 1 if fetching it faulted
    xor eax, eax
    call rdi
    ret
global percy_return_site
percy_return_site:      ; () -> the address of a `ret` in kernel text
    lea rax, [rel .site]
    ret
.site:
    ret
percy_probe_sites:      ; (ulong out[3]): the probe's read, write and fixup addresses
    lea rax, [rel probe_read_access]
    mov [rdi], rax
    lea rax, [rel probe_write_access]
    mov [rdi + 8], rax
    lea rax, [rel probe_write_fixup]
    mov [rdi + 16], rax
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
