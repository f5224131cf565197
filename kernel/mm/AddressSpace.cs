// The kernel's virtual address space: every region, defined once.
//
//   PML4 slot   virtual base            what
//   0           0x0000000000000000      boot identity map (only until the BSP's own tables load;
//                                       the AP trampoline page stays mapped while APs start)
//   256..383    0xFFFF800000000000      direct map of physical memory (up to 64 TiB)
//   384         0xFFFFC00000000000      vmap: kernel stacks with guard pages, ioremap (uncached MMIO)
//   385..399    0xFFFFC08000000000      never mapped: a write here always faults (tests, `panic`)
//   400..407    0xFFFFC80000000000      per-CPU units: CPU c's unit at PerCpuBase + c * unit_vm
//   508         0xFFFFFE0000000000      per-CPU local window: each CPU's own unit, private slot
//   511         0xFFFFFFFF80000000      kernel image (-2 GiB, at most 512 MiB)
//               0xFFFFFFFFA0000000      module images, 1520 MiB (ModuleArea; Linux's MODULES_VADDR):
//                                       within +-2 GiB of the kernel for PC32, and in the top
//                                       2 GiB for gcc's -mcmodel=kernel R_X86_64_32S
//
// Each CPU has its own PML4. All kernel-half slots except the local window point at the
// same PDPTs, created at boot, so a mapping made by one CPU is seen by all without
// copying PML4 entries (the kernel never adds a kernel-half PML4 entry after boot).
namespace Percy.Kernel.Mm
{
    public static class AddressSpace
    {
        public const ulong PageSize = 4096;
        public const ulong LargePageSize = 2ul << 20;
        public const ulong HugePageSize = 1ul << 30;
        public const ulong SlotSize = 512ul << 30;              // what one PML4 entry covers
        public const int KernelHalfFirstSlot = 256;

        public const int DirectMapFirstSlot = 256;
        public const int DirectMapSlots = 128;
        public const ulong DirectMapBase = 0xFFFF800000000000;
        public const ulong DirectMapSize = DirectMapSlots * SlotSize;

        public const int VmapSlot = 384;
        public const ulong VmapBase = 0xFFFFC00000000000;
        public const ulong KernelStacksBase = VmapBase;                 // KernelStacks.cs
        public const ulong KernelStacksSize = 64ul << 30;
        public const ulong IoMapBase = KernelStacksBase + KernelStacksSize; // IoMap.cs
        public const ulong IoMapSize = 64ul << 30;

        public const ulong NeverMapped = 0xFFFFC08000000000;

        public const int PerCpuFirstSlot = 400;
        public const int PerCpuSlots = 8;
        public const ulong PerCpuBase = 0xFFFFC80000000000;

        public const int LocalWindowSlot = 508;
        public const ulong LocalWindowBase = 0xFFFFFE0000000000;

        public const int KernelImageSlot = 511;
        public const ulong KernelImageBase = 0xFFFFFFFF80000000;
        public const ulong ModulesBase = 0xFFFFFFFFA0000000;
        public const ulong ModulesEnd = 0xFFFFFFFFFF000000;    // the last 16 MiB stay unmapped

        public static int SlotOf(ulong virt) => (int)(virt >> 39 & 511);
    }
}
