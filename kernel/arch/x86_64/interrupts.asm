; Interrupt and exception entry. Every vector gets a stub that pushes a uniform frame
; (vector, error code, all general registers) and calls the C# dispatcher
; InterruptDispatch(InterruptFrame*). Vectors without a CPU-pushed error code push 0.
bits 64
section .text
extern InterruptDispatch

; Vectors for which the CPU pushes an error code.
%define HAS_ERROR(v) ((v) == 8 || ((v) >= 10 && (v) <= 14) || (v) == 17 || (v) == 21 || (v) == 29 || (v) == 30)

%macro ISR_STUB 1
isr_stub_%1:
%if HAS_ERROR(%1) == 0
    push 0
%endif
    push %1
    jmp isr_common
%endmacro

%assign v 0
%rep 256
    ISR_STUB v
%assign v v + 1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    cld
    ; Managed code wants RSP 16-byte aligned at the call. In long mode the CPU aligns
    ; RSP to 16 before pushing its 5-qword frame; with error code, vector and 15
    ; registers that is 22 qwords, so RSP is aligned here.
    mov rdi, rsp                ; InterruptFrame*
    call InterruptDispatch
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

section .rodata
empty_idt:
    dw 0
    dq 0
global isr_stub_table
isr_stub_table:
%assign v 0
%rep 256
    dq isr_stub_%+v
%assign v v + 1
%endrep

section .text
global percy_isr_stub_table
percy_isr_stub_table:           ; () -> address of the 256 stub addresses
    lea rax, [rel isr_stub_table]
    ret

global percy_load_gdt
percy_load_gdt:                 ; (descriptor pointer, code selector, data selector)
    lgdt [rdi]
    mov ds, dx
    mov es, dx
    mov ss, dx
    ; FS and GS are left alone: GS's base (an MSR) is the per-CPU area, and loading a
    ; selector into GS clears that base on some CPUs.
    ; Reload CS with a far return: push the new selector and the return target.
    pop rax
    push rsi
    push rax
    retfq

global percy_load_idt, percy_load_tr
percy_load_idt:                 ; (descriptor pointer)
    lidt [rdi]
    ret
percy_load_tr:                  ; (TSS selector)
    ltr di
    ret

global percy_breakpoint
percy_breakpoint:               ; raises #BP, for the interrupt self-test
    int3
    ret

; The last resort of reboot: with an empty IDT, the next exception cannot be
; delivered, the double fault cannot either, and the CPU resets.
global percy_triple_fault
percy_triple_fault:
    lidt [rel empty_idt]
    int3
    hlt
    jmp percy_triple_fault

global percy_boot_tsc
percy_boot_tsc:                 ; () -> TSC value read at kernel entry (boot.asm)
    extern boot_tsc
    mov rax, [boot_tsc]
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
