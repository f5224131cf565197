; Boot stub: GRUB enters here in 32-bit protected mode (Multiboot2, paging off).
; We build a temporary address space that maps the first 4 GiB one-to-one and at the
; direct-map base, and the kernel image at -2 GiB, switch to long mode and call the
; C# KernelMain. The kernel replaces these tables with its own (kernel/mm/).
; Everything in this file before long_mode_entry runs at physical addresses.

%define MB2_MAGIC        0xE85250D6
%define MB2_BOOT_MAGIC   0x36D76289
%define KERNEL_VMA       0xFFFFFFFF80000000
%define DIRECT_MAP_SLOT  256                ; AddressSpace.DirectMapFirstSlot
%define PAGE_PRESENT_RW  0x3
%define PAGE_HUGE        0x80
%define EFER_MSR         0xC0000080
%define EFER_LME         (1 << 8)
%define EFER_NXE         (1 << 11)
%define CPUID_NX         (1 << 20)          ; CPUID 0x80000001 EDX: execute disable
%define CR4_PAE          (1 << 5)
%define CR4_OSFXSR       (1 << 9)
%define CR4_OSXMMEXCPT   (1 << 10)
%define CR0_MP           (1 << 1)
%define CR0_EM           (1 << 2)
%define CR0_WP           (1 << 16)       ; read-only pages bind ring 0 too (W^X)
%define CR0_PG           (1 << 31)
%define BOOT_STACK_SIZE  4096
%define KERNEL_CODE      0x08               ; Gdt.KernelCode: the boot GDT's selectors match
%define KERNEL_DATA      0x10               ; Gdt.KernelData
%define PAGE_TABLE_SIZE  0x1000
%define FB_WIDTH         1024
%define FB_HEIGHT        768
%define FB_DEPTH         32
%define KERNEL_STACK_SIZE (64 * 1024)

section .multiboot2 align=8
mb2_header:
    dd MB2_MAGIC
    dd 0                                    ; i386 protected mode entry
    dd mb2_header_end - mb2_header
    dd -(MB2_MAGIC + (mb2_header_end - mb2_header))
    align 8
    dw 6, 0                                 ; module alignment: boot modules page-aligned
    dd 8
    align 8
    ; Framebuffer request, optional: UEFI has no text mode, so without this GRUB leaves
    ; the kernel no screen at all. Under a BIOS, GRUB sets a VBE mode if it can, else VGA text.
    dw 5, 1
    dd 20
    dd FB_WIDTH, FB_HEIGHT, FB_DEPTH
    align 8
    dw 0, 0                                 ; end tag
    dd 8
mb2_header_end:

section .boot.text progbits alloc exec nowrite
bits 32
global _start
_start:
    cli
    mov esp, boot_stack + BOOT_STACK_SIZE
    ; Kernel entry time for boot_ms: the first thing we measure.
    push eax
    rdtsc
    mov [boot_tsc], eax
    mov [boot_tsc + 4], edx
    pop eax
    cmp eax, MB2_BOOT_MAGIC
    jne .not_multiboot2
    mov [boot_info], ebx

    ; Long mode needs CPUID leaf 0x80000001, EDX bit 29.
    mov eax, 0x80000000
    cpuid
    cmp eax, 0x80000001
    jb .no_long_mode
    mov eax, 0x80000001
    cpuid
    test edx, 1 << 29
    jz .no_long_mode
    ; NX (EDX bit 20) is optional: old CPUs lack it and firmware can hide it ("Execute
    ; Disable Bit: disabled"). Setting EFER.NXE without it is a #GP, a silent reset here;
    ; the kernel reads EFER to learn whether its page tables may use bit 63.
    test edx, CPUID_NX
    jz .efer_chosen
    or dword [boot_efer], EFER_NXE
.efer_chosen:

    ; Four page directories of 2 MiB pages map physical 0..4 GiB.
    mov edi, boot_pd
    mov eax, PAGE_PRESENT_RW | PAGE_HUGE
    xor edx, edx
    mov ecx, 4 * 512
.fill_pd:
    mov [edi], eax
    mov [edi + 4], edx
    add eax, 0x200000
    adc edx, 0
    add edi, 8
    loop .fill_pd

    ; The low PDPT points at all four directories (identity map) ...
    mov eax, boot_pd + PAGE_PRESENT_RW
    mov [boot_pdpt_low], eax
    add eax, PAGE_TABLE_SIZE
    mov [boot_pdpt_low + 8], eax
    add eax, PAGE_TABLE_SIZE
    mov [boot_pdpt_low + 16], eax
    add eax, PAGE_TABLE_SIZE
    mov [boot_pdpt_low + 24], eax
    ; ... and the high PDPT's slot 510 maps -2 GiB onto physical 0..1 GiB.
    mov dword [boot_pdpt_high + 510 * 8], boot_pd + PAGE_PRESENT_RW
    ; The same low 4 GiB also appear at the direct-map base (PML4 slot 256), so pointers
    ; the kernel derives at boot stay valid when it switches to its own tables.
    mov dword [boot_pml4], boot_pdpt_low + PAGE_PRESENT_RW
    mov dword [boot_pml4 + DIRECT_MAP_SLOT * 8], boot_pdpt_low + PAGE_PRESENT_RW
    mov dword [boot_pml4 + 511 * 8], boot_pdpt_high + PAGE_PRESENT_RW

    mov eax, boot_pml4
    mov cr3, eax
    mov eax, cr4
    or eax, CR4_PAE | CR4_OSFXSR | CR4_OSXMMEXCPT
    mov cr4, eax
    mov ecx, EFER_MSR
    rdmsr
    or eax, [boot_efer]
    wrmsr
    mov eax, cr0
    and eax, ~CR0_EM
    or eax, CR0_PG | CR0_MP | CR0_WP
    mov cr0, eax
    lgdt [boot_gdt_ptr]
    jmp KERNEL_CODE:long_mode_entry

; Without serial or screen set up we can only leave a mark on the VGA text screen.
.not_multiboot2:
    mov esi, msg_not_multiboot2
    jmp .fatal
.no_long_mode:
    mov esi, msg_no_long_mode
.fatal:
    mov edi, 0xB8000
.fatal_char:
    lodsb
    test al, al
    jz .halt
    mov ah, 0x4F
    stosw
    jmp .fatal_char
.halt:
    hlt
    jmp .halt

bits 64
long_mode_entry:
    mov ax, KERNEL_DATA
    mov ds, ax
    mov es, ax
    mov ss, ax
    xor eax, eax
    mov fs, ax
    mov gs, ax
    mov rax, higher_half_entry
    jmp rax

section .boot.data progbits alloc noexec write align=16
msg_not_multiboot2: db "percy: not loaded by a Multiboot2 loader", 0
msg_no_long_mode:   db "percy: this CPU has no 64-bit long mode", 0
align 8
boot_gdt:
    dq 0
    dq 0x00AF9A000000FFFF                    ; KERNEL_CODE: 64-bit code
    dq 0x00CF92000000FFFF                    ; KERNEL_DATA: data
boot_gdt_ptr:
    dw boot_gdt_ptr - boot_gdt - 1
    dq boot_gdt
global boot_tsc, boot_info
boot_tsc:  dq 0
boot_info: dq 0
boot_efer: dd EFER_LME                       ; + EFER_NXE when the CPU has NX

section .boot.bss nobits alloc noexec write align=4096
boot_pml4:      resb 4096
boot_pdpt_low:  resb 4096
boot_pdpt_high: resb 4096
boot_pd:        resb 4 * 4096
boot_stack:     resb BOOT_STACK_SIZE

section .text
bits 64
extern KernelMain, __security_cookie
global higher_half_entry:function
higher_half_entry:
    mov rsp, kernel_stack + KERNEL_STACK_SIZE
    xor ebp, ebp
    ; A per-boot stack canary, set before any managed frame can hold the old one.
    rdtsc
    shl rdx, 32
    or rax, rdx
    xor [rel __security_cookie], rax
    mov edi, MB2_BOOT_MAGIC
    mov esi, [boot_info]                    ; physical address of the Multiboot2 information
    call KernelMain
.hang:
    cli
    hlt
    jmp .hang

section .bss nobits alloc noexec write align=4096
; The page below the boot stack is left unmapped by the kernel's page tables: a stack
; overflow faults there instead of corrupting what lies below.
global kernel_stack_guard, kernel_stack, kernel_stack_top
kernel_stack_guard: resb 4096
kernel_stack: resb KERNEL_STACK_SIZE
kernel_stack_top:

section .note.GNU-stack noalloc noexec nowrite progbits
