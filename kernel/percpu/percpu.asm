; The static per-CPU section's bounds, from kernel/arch/x86_64/linker.ld, for the boot code
; that copies the template into every CPU's unit (kernel/percpu/PerCpuImage.cs).
; __per_cpu_start/__per_cpu_end are offsets (the section is linked at 0), so they are
; loaded as 64-bit absolute values, not RIP-relative addresses.
bits 64
section .text
extern __per_cpu_load, __per_cpu_start, __per_cpu_end
global percy_percpu_image
percy_percpu_image:     ; (PerCpuImage* out)
    mov rax, __per_cpu_load
    mov [rdi], rax
    mov rax, __per_cpu_start
    mov [rdi + 8], rax
    mov rax, __per_cpu_end
    mov [rdi + 16], rax
    ret
