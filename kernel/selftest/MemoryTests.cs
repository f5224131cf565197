// Self-tests of the memory subsystem on the running machine: page protection (W^X,
// guard pages), the page allocator, the heap and the per-CPU page tables.
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;

namespace Percy.Kernel.SelfTest
{
    internal static unsafe class MemoryTests
    {
        const ulong Page = AddressSpace.PageSize;
        const byte Ret = 0xC3;

        // Reports a fault the probe caught, e.g. `# fault at ffffffff8010a100: error 0x3 (write, protection)`.
        static bool Faulted(TestContext* t, bool faulted)
        {
            ulong e = FaultProbe.LastErrorCode;
            if (faulted)
                t->Note($"fault at {FaultProbe.LastAddress:x16}: error 0x{e:x} ({((e & FaultProbe.FaultInstructionFetch) != 0 ? "fetch" : (e & FaultProbe.FaultWrite) != 0 ? "write" : "read")}, {((e & FaultProbe.FaultPresent) != 0 ? "protection" : "not present")})");
            return faulted;
        }

        public static void Register()
        {
            SelfTests.Register("mm", "text_is_not_writable", &TextIsNotWritable);
            SelfTests.Register("mm", "rodata_is_not_writable", &RodataIsNotWritable);
            SelfTests.Register("mm", "data_is_not_executable", &DataIsNotExecutable);
            SelfTests.Register("mm", "text_is_executable", &TextIsExecutable);
            SelfTests.Register("mm", "stack_guard_pages_unmapped", &StackGuardPagesUnmapped);
            SelfTests.Register("mm", "never_mapped_hole_faults", &NeverMappedHoleFaults);
            SelfTests.Register("mm", "direct_map_translates", &DirectMapTranslates);
            SelfTests.Register("mm", "page_alloc_free_restores_counts", &PageAllocFreeRestoresCounts);
            SelfTests.Register("mm", "heap_alloc_free_restores_counts", &HeapAllocFreeRestoresCounts);
            SelfTests.Register("mm", "cpus_share_kernel_half", &CpusShareKernelHalf);
            SelfTests.Register("mm", "device_registers_uncached", &DeviceRegistersUncached);
        }

        static void TextIsNotWritable(TestContext* t)
        {
            KernelLayout k = KernelLayout.Current;
            t->Expect(Faulted(t, FaultProbe.WriteFaults(k.TextStart + 0x100)), "a write to kernel text faults");
            t->ExpectEqual(FaultProbe.LastErrorCode & (FaultProbe.FaultPresent | FaultProbe.FaultWrite),
                           FaultProbe.FaultPresent | FaultProbe.FaultWrite, "as a protection fault on write");
        }

        static void RodataIsNotWritable(TestContext* t)
        {
            KernelLayout k = KernelLayout.Current;
            t->Expect(Faulted(t, FaultProbe.WriteFaults(k.RodataStart)), "a write to kernel rodata faults");
            t->ExpectEqual(FaultProbe.LastErrorCode & FaultProbe.FaultWrite, FaultProbe.FaultWrite, "on write");
        }

        static void DataIsNotExecutable(TestContext* t)
        {
            if (!NoExecuteInForce(t)) return;
            // A `ret` in the heap and one in .bss: if either ran, NX would be broken.
            byte* heapCode = (byte*)Heap.Allocate(16);
            *heapCode = Ret;
            t->Expect(Faulted(t, FaultProbe.ExecuteFaults((ulong)heapCode)), "executing heap memory faults");
            t->ExpectEqual(FaultProbe.LastErrorCode & FaultProbe.FaultInstructionFetch, FaultProbe.FaultInstructionFetch, "as an instruction fetch");
            Heap.Free(heapCode);
            s_bssCode = Ret;
            fixed (byte* p = &s_bssCode) t->Expect(Faulted(t, FaultProbe.ExecuteFaults((ulong)p)), "executing kernel .bss faults");
        }

        static byte s_bssCode;

        // The NX bit data mappings carry: none on a CPU without NX (KernelPageTables).
        static ulong NoExecuteFlag => PageFlags.NoExecute & ~KernelPageTables.Kernel.UnsupportedFlags;

        static bool NoExecuteInForce(TestContext* t)
        {
            if (NoExecuteFlag != 0) return true;
            t->Skip("the CPU offers no NX");
            return false;
        }

        static void TextIsExecutable(TestContext* t)
        {
            // The probe's own negative case: a real `ret` in kernel text runs and returns.
            t->Expect(!FaultProbe.ExecuteFaults(ReturnSite()), "kernel text executes");
        }

        [System.Runtime.RuntimeImport("*", "percy_return_site")]
        [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]
        static extern ulong ReturnSite();

        static void StackGuardPagesUnmapped(TestContext* t)
        {
            KernelLayout k = KernelLayout.Current;
            t->Expect(Faulted(t, FaultProbe.WriteFaults(k.BootStackGuard + Page - 8)), "the boot stack's guard page faults");
            t->ExpectEqual(FaultProbe.LastErrorCode & FaultProbe.FaultPresent, 0, "as not-present");
            t->Expect(!FaultProbe.WriteFaults(k.BootStackGuard + Page), "the stack right above it is mapped");
            ulong top = KernelStacks.Allocate(Page, out ulong bottom);
            t->Expect(top != 0, "a kernel stack can be allocated");
            t->Expect(!FaultProbe.WriteFaults(bottom), "its lowest byte is mapped");
            t->Expect(Faulted(t, FaultProbe.WriteFaults(bottom - 1)), "the byte below it faults");
            KernelStacks.Free(bottom, top);
        }

        static void NeverMappedHoleFaults(TestContext* t)
        {
            t->Expect(Faulted(t, FaultProbe.WriteFaults(AddressSpace.NeverMapped)), "the never-mapped hole faults");
        }

        static void DirectMapTranslates(TestContext* t)
        {
            ulong phys = PhysicalMemory.AllocatePages(0, true);
            t->Expect(phys != 0, "a page is available");
            t->Expect(KernelPageTables.Kernel.Translate(DirectMap.Offset + phys + 123, out ulong back, out ulong flags), "its direct-map address is mapped");
            t->ExpectEqual(back, phys + 123, "and translates back");
            t->ExpectEqual(flags & PageFlags.NoExecute, NoExecuteFlag, "direct map is not executable (where the CPU has NX)");
            t->Expect(PhysicalMemory.FreePages(phys, 0), "the page frees");
        }

        static void PageAllocFreeRestoresCounts(TestContext* t)
        {
            PageAllocator p = PhysicalMemory.Pages;
            ulong free = p.FreePages;
            ulong* blocks = stackalloc ulong[PageAllocator.MaxOrder + 1];
            for (int o = 0; o <= PageAllocator.MaxOrder; o++) blocks[o] = p.FreeBlocks(o);
            ulong* got = stackalloc ulong[6];
            for (int o = 0; o < 6; o++)
            {
                got[o] = PhysicalMemory.AllocatePages(o, true);
                t->Expect(got[o] != 0 && (got[o] & ((Page << o) - 1)) == 0, "block aligned to its size");
                *(ulong*)DirectMap.ToVirtual(got[o]) = 0x5A5A5A5A;   // the memory is really there
            }
            t->ExpectEqual(free - p.FreePages, 63, "2^0 + ... + 2^5 pages taken");
            t->Expect(!PhysicalMemory.FreePages(got[3], 2), "a free with the wrong order is refused");
            for (int o = 0; o < 6; o++) t->Expect(PhysicalMemory.FreePages(got[o], o), "block frees");
            t->Expect(!PhysicalMemory.FreePages(got[0], 0), "a double free is refused");
            t->ExpectEqual(p.FreePages, free, "free pages restored");
            bool same = true;
            for (int o = 0; o <= PageAllocator.MaxOrder; o++) same &= blocks[o] == p.FreeBlocks(o);
            t->Expect(same, "buddies merged back into the same blocks");
        }

        static void HeapAllocFreeRestoresCounts(TestContext* t)
        {
            ulong bytes = KernelHeap.BytesInUse, pages = PhysicalMemory.Pages.FreePages;
            void** objects = stackalloc void*[64];
            for (int i = 0; i < 64; i++)
            {
                ulong size = (ulong)(i * 97 % 9000) + 1;
                objects[i] = Heap.Allocate(size);
                t->Expect(objects[i] != null && ((ulong)objects[i] & 15) == 0, "allocation aligned");
                t->ExpectEqual(*(byte*)objects[i], 0, "allocation zeroed");
                Memory.Fill((byte*)objects[i], 0xEE, (nuint)size);
            }
            for (int i = 0; i < 64; i++) t->Expect(Heap.Free(objects[i]), "free accepted");
            t->Expect(!Heap.Free(objects[0]), "double free refused");
            t->ExpectEqual(KernelHeap.BytesInUse, bytes, "heap bytes restored");
            t->ExpectEqual(PhysicalMemory.Pages.FreePages, pages, "empty slabs returned their pages");
        }

        static void DeviceRegistersUncached(TestContext* t)
        {
            // The first MMIO mapping at boot is the local APIC's (unless x2APIC needs none).
            if (!KernelPageTables.Kernel.Translate(AddressSpace.IoMapBase, out ulong phys, out ulong flags))
            {
                t->Skip("no MMIO mapped (x2APIC mode and no I/O APIC or HPET)");
                return;
            }
            t->Note($"first MMIO page: {phys:x} flags 0x{flags:x}");
            t->ExpectEqual(flags & PageFlags.Uncached, PageFlags.Uncached, "cache disable and write-through set");
            t->ExpectEqual(flags & PageFlags.NoExecute, NoExecuteFlag, "not executable (where the CPU has NX)");
        }

        static void CpusShareKernelHalf(TestContext* t)
        {
            PageTable k = KernelPageTables.Kernel;
            ulong* bsp = k.Entry(KernelPageTables.CpuRoots[0], 0);
            for (int cpu = 1; cpu < KernelPageTables.PossibleCpus; cpu++)
            {
                ulong* root = k.Entry(KernelPageTables.CpuRoots[cpu], 0);
                int differ = 0;
                for (int s = AddressSpace.KernelHalfFirstSlot; s < PageTable.Entries; s++)
                    // The CPU sets Accessed in the entries it walks; only the BSP's are live yet.
                    if (s != AddressSpace.LocalWindowSlot && ((root[s] ^ bsp[s]) & ~PageFlags.Accessed) != 0) differ++;
                t->ExpectEqual((ulong)differ, 0, "kernel-half slots point at the same tables");
                t->Expect(root[AddressSpace.LocalWindowSlot] != bsp[AddressSpace.LocalWindowSlot], "local-window slot is private");
            }
            t->Expect(KernelPageTables.PossibleCpus >= 1, "at least one CPU");
        }
    }
}
