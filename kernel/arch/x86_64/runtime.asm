; Runtime support the ILCompiler's generated code calls by contract.
bits 64
%define PAGE_SIZE 4096

section .text
; The JIT calls this before allocating a frame larger than a page. It touches every
; page from the current one down to r11 (the frame's lowest address) in order, so a
; stack overflow hits the guard page below the stack instead of jumping past it.
; Contract: r11 = lowest address of the new frame; preserves r11; may clobber rax.
global RhpStackProbe
RhpStackProbe:
    mov rax, rsp
    and rax, -PAGE_SIZE
.probe:
    sub rax, PAGE_SIZE
    test [rax], eax
    cmp rax, r11
    jg .probe
    ret

; The start of the __modules section: ILC puts the ReadyToRun header's address there.
extern __modules_start
global percy_modules_section
percy_modules_section:
    lea rax, [rel __modules_start]
    ret

; The stack-protector canary that frames with stackalloc buffers check on return.
; boot.asm seeds it from the TSC before any managed code runs.
section .data
global __security_cookie
align 8
__security_cookie: dq 0x2B992DDFA232

section .note.GNU-stack noalloc noexec nowrite progbits
