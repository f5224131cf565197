; Secondary-CPU (AP) start. The BSP copies the trampoline below into a page under 1 MiB
; (PhysicalMemory.TrampolinePage), fills its parameter block (Smp.cs, TrampolineParams)
; and sends INIT-SIPI-SIPI. The AP starts in real mode at CS = page >> 4, IP = 0, goes
; straight to long mode (PE and PG in one move to CR0 is allowed), runs on a temporary
; PML4 that identity-maps low memory (the trampoline must keep executing right after
; paging turns on) and shares the kernel half, then jumps to percy_ap_entry in kernel
; text, which loads the CPU's own PML4 and calls the C# ApMain.
;
; The trampoline is position-independent: real-mode addresses are offsets from CS,
; 64-bit ones are RIP-relative, and the only absolute targets (GDT base, far jump)
; come from the parameter block, which the BSP writes after the copy.
bits 64

%define PARAMS      0x200               ; Smp.ParamsOffset: parameter block inside the page
%define P_GDTR      (PARAMS + 0)        ; u16 pad, u16 limit, u32 base: lgdt reads +2
%define P_JUMP      (PARAMS + 8)        ; u32 offset, u16 selector: far jump to 64-bit code
%define P_CR3       (PARAMS + 16)       ; temporary PML4, below 4 GiB
%define P_ARRIVED   (PARAMS + 20)       ; the AP writes 1 here first thing: the SIPI worked
%define P_CR4       (PARAMS + 24)       ; the BSP's CR4, CR0 and EFER (minus mode-only bits)
%define P_CR0       (PARAMS + 28)
%define P_EFER      (PARAMS + 32)
%define P_ENTRY     (PARAMS + 40)       ; percy_ap_entry (higher half)
%define P_STACK     (PARAMS + 48)       ; top of the AP's guarded stack
%define P_PERCPU    (PARAMS + 56)       ; the AP's PerCpu*
%define P_ROOT      (PARAMS + 64)       ; the AP's own PML4 (KernelPageTables.CpuRoots)
%define KERNEL_DATA 0x10                ; Gdt.KernelData, also in the trampoline's GDT
%define EFER_MSR    0xC0000080

; Never executed where it is linked: only copied, so it lives in read-only data.
section .rodata
align 16
trampoline_start:
bits 16
    cli
    cld
    mov ax, cs
    mov ds, ax
    mov dword [P_ARRIVED], 1
    o32 lgdt [P_GDTR + 2]               ; o32: a 32-bit base, not 24 bits
    mov eax, [P_CR4]                    ; PAE first: long mode needs it before PG
    mov cr4, eax
    mov eax, [P_CR3]
    mov cr3, eax
    mov ecx, EFER_MSR                   ; LME (and NXE, as the BSP has it)
    mov eax, [P_EFER]
    xor edx, edx
    wrmsr
    mov eax, [P_CR0]                    ; PE | PG | WP ...: straight into long mode
    mov cr0, eax
    jmp far dword [P_JUMP]              ; loads the 64-bit code segment
bits 64
trampoline_long:
    mov ax, KERNEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rsp, [rel trampoline_start + P_STACK]
    mov rdi, [rel trampoline_start + P_PERCPU]
    mov rsi, [rel trampoline_start + P_ROOT]
    mov rax, [rel trampoline_start + P_ENTRY]
    jmp rax
trampoline_code_end:
    ; The code must end before the parameter block (assembly fails otherwise).
    times PARAMS - (trampoline_code_end - trampoline_start) db 0

section .text
global percy_trampoline_code
percy_trampoline_code:          ; (ulong out[5]): address and length of the code to copy,
    lea rax, [rel trampoline_start]     ; the offset of its 64-bit part, and the address of
    mov [rdi], rax                      ; percy_trampoline_tables, and percy_ap_entry
    mov qword [rdi + 8], trampoline_code_end - trampoline_start
    mov qword [rdi + 16], trampoline_long - trampoline_start
    lea rax, [rel percy_trampoline_tables]
    mov [rdi + 24], rax
    lea rax, [rel percy_ap_entry]
    mov [rdi + 32], rax
    ret

extern ApMain
global percy_ap_entry
percy_ap_entry:                 ; rdi = PerCpu*, rsi = this CPU's PML4, rsp = its stack top
    mov cr3, rsi                ; leave the temporary tables for the CPU's own
    xor ebp, ebp                ; ends call traces here
    call ApMain                 ; RSP is 16-byte aligned at the call, as managed code wants
.hang:
    cli
    hlt
    jmp .hang

; The temporary page tables for APs in transit: one PML4 whose slot 0 identity-maps the
; first 2 MiB (one large page) and whose kernel half is the boot CPU's. In the kernel
; image, so they sit below 4 GiB, where a 32-bit CR3 load can reach them.
section .bss nobits alloc noexec write align=4096
global percy_trampoline_tables
percy_trampoline_tables:        ; PML4, PDPT, PD
    resb 3 * 4096

; Atomics and interrupt-flag helpers for SMP code (C# has no lock prefix).
section .text
global percy_atomic_xchg32, percy_atomic_cmpxchg32, percy_atomic_add32
global percy_atomic_or64, percy_atomic_and64
percy_atomic_xchg32:            ; (int* p, int value) -> old value; xchg is locked
    mov eax, esi
    xchg [rdi], eax
    ret
percy_atomic_cmpxchg32:         ; (int* p, int expected, int value) -> old value
    mov eax, esi
    lock cmpxchg [rdi], edx
    ret
percy_atomic_add32:             ; (int* p, int delta) -> new value
    mov eax, esi
    lock xadd [rdi], eax
    add eax, esi
    ret
percy_atomic_or64:              ; (ulong* p, ulong bits)
    lock or [rdi], rsi
    ret
percy_atomic_and64:             ; (ulong* p, ulong bits)
    lock and [rdi], rsi
    ret

global percy_irq_save, percy_irq_restore
percy_irq_save:                 ; () -> RFLAGS before; interrupts now off
    pushfq
    pop rax
    cli
    ret
percy_irq_restore:              ; (RFLAGS from percy_irq_save): IF as it was
    push rdi
    popfq
    ret

; The asm form of smp_processor_id(): GS holds the CPU's unit and a per-CPU symbol's
; value is its offset in every unit (the section is linked at 0), as on Linux.
extern per_cpu__Percy_Kernel_Smp_Cpus__Number
global percy_this_cpu_number
percy_this_cpu_number:          ; () -> logical number of the running CPU
    mov eax, [gs:per_cpu__Percy_Kernel_Smp_Cpus__Number]
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
