// Starting the secondary CPUs (APs).
//
// Sequence (Intel SDM vol. 3, 9.4.4; MP spec B.4): the BSP prepares, for every AP it
// will start, a guarded kernel stack, a GDT and TSS with their own double-fault and NMI
// stacks, and its PerCpu area. It sends INIT to all of them, waits the documented
// 10 ms once (not once per CPU: they are all held in wait-for-SIPI meanwhile; and not at
// all on the CPUs Linux knows start without it, InitDelay.cs), then
// starts them one at a time through the single trampoline page: SIPI, wait up to
// 200 us for the AP to mark itself arrived, a second SIPI if it has not, then wait up
// to ArrivalTimeoutMs for it to come online. A CPU that does not is sent INIT again
// (parked, so it cannot wander into the next CPU's parameters), logged and left offline.
//
// Device interrupts (serial, keyboard) go to the boot CPU, through the I/O APIC when the
// MADT has one (IoApic.cs), else through the 8259 PIC; APs take only IPIs.
using System.Runtime;
using Percy.Kernel.Arch;
using Percy.Kernel.Mm;

namespace Percy.Kernel.Smp
{
    // The trampoline's parameter block (trampoline.asm, P_*), at ParamsOffset in the page.
    [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Sequential, Pack = 1)]
    internal struct TrampolineParams
    {
        public ushort Pad0, GdtLimit;
        public uint GdtBase;                          // +0: lgdt reads from +2
        public uint JumpOffset;                       // +8: far jump into the 64-bit part
        public ushort JumpSelector, Pad1;
        public uint Cr3;                              // +16: temporary PML4
        public uint Arrived;                          // +20
        public uint Cr4, Cr0, Efer, Pad2;             // +24
        public ulong Entry;                           // +40: percy_ap_entry
        public ulong StackTop;                        // +48
        public ulong PerCpu;                          // +56
        public ulong Root;                            // +64: the AP's own PML4
        public ulong GdtNull, GdtCode, GdtData;       // +72: the trampoline's GDT
    }

    internal static unsafe class SmpBoot
    {
        const int ParamsOffset = 0x200;               // PARAMS in trampoline.asm
        const ulong Page = AddressSpace.PageSize;
        const ulong ApStackSize = 16 * 1024;
        const ulong StartupDelayUs = 200;             // between the two SIPIs
        const ulong ArrivalTimeoutMs = 1000;          // TCG on a busy host can be slow
        const ulong CodeMask = 0xFFFFFFFF;
        const ulong Cr4PcidEnable = 1ul << 17;        // needs long mode: not for real mode
        const uint EferMsr = 0xC0000080;
        const ulong EferLongModeActive = 1ul << 10;   // read-only status bit
        const ulong LargePage2M = 0x200000;

        static ulong* s_tables;                       // percy_trampoline_tables: PML4, PDPT, PD
        static ulong s_bringUpMs;

        [RuntimeImport("*", "percy_trampoline_code")] [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.InternalCall)]
        static extern void TrampolineCode(ulong* info);

        public static ulong BringUpMs => s_bringUpMs;

        public static void StartSecondaryCpus()
        {
            ulong startMs = Clock.MillisecondsSinceBoot();
            ulong page = PhysicalMemory.TrampolinePage;
            int candidates = 0;
            for (int cpu = 1; cpu < Cpus.NrCpuIds; cpu++)
            {
                PerCpu* p = Cpus.Area(cpu);
                if (p->State != (int)CpuState.Offline) continue;
                if (cpu >= Cpus.MaxCpus) continue;
                if (!Apic.CanAddress(p->ApicId))
                {
                    Log.Warn($"smp: warning: cpu {cpu} has APIC id {p->ApicId}, beyond xAPIC's reach; left offline");
                    continue;
                }
                if (!Prepare(p)) { Log.Warn($"smp: warning: out of memory for cpu {cpu}; left offline"); continue; }
                p->State = (int)CpuState.Starting;
                candidates++;
            }
            if (candidates == 0) return;
            if (page == 0 || page >= (1ul << 20))
            {
                Log.Warn("smp: warning: no trampoline page below 1 MiB; secondary CPUs stay offline");
                for (int cpu = 1; cpu < Cpus.NrCpuIds; cpu++)
                    if (Cpus.Area(cpu)->State == (int)CpuState.Starting) Cpus.Area(cpu)->State = (int)CpuState.Offline;
                return;
            }

            var par = InstallTrampoline(page);
            for (int cpu = 1; cpu < Cpus.NrCpuIds; cpu++)
                if (Cpus.Area(cpu)->State == (int)CpuState.Starting) Apic.SendInit(Cpus.Area(cpu)->ApicId);
            if (NeedsInitDelay()) Clock.DelayMicroseconds(InitDelay.LegacyDelayUs);

            int started = 0;
            for (int cpu = 1; cpu < Cpus.NrCpuIds; cpu++)
            {
                PerCpu* p = Cpus.Area(cpu);
                if (p->State != (int)CpuState.Starting) continue;
                if (Start(p, par, page)) started++;
                else
                {
                    p->State = (int)CpuState.Failed;
                    Apic.SendInit(p->ApicId);
                    Log.Warn($"smp: warning: cpu {cpu} (APIC id {p->ApicId}) did not come online within {ArrivalTimeoutMs} ms{(par->Arrived != 0 ? " (it ran the trampoline)" : " (no sign of life)")}; left offline");
                }
            }
            RemoveIdentityMapping();
            s_bringUpMs = Clock.MillisecondsSinceBoot() - startMs;
            Log.Info($"smp: brought up {Cpus.OnlineCount} CPUs of {Cpus.PossibleCount} possible in {s_bringUpMs} ms");
        }

        // Stack, fault stacks, GDT and TSS for an AP, made by the BSP (the heap and page
        // allocator are not SMP-safe yet, and the AP needs them before it runs C#).
        static bool Prepare(PerCpu* p)
        {
            ulong top = KernelStacks.Allocate(ApStackSize, out ulong bottom);
            ulong df = KernelStacks.Allocate(Gdt.IstStackSize, out _);
            ulong nmi = KernelStacks.Allocate(Gdt.IstStackSize, out _);
            if (top == 0 || df == 0 || nmi == 0) return false;
            p->StackBottom = bottom;
            p->StackTop = top;
            p->Gdt = Gdt.Create(df, nmi, out p->Tss);
            return true;
        }

        // Copies the trampoline into its page and fills what every AP shares. The AP runs
        // on temporary tables in the kernel image (below 4 GiB, for its 32-bit CR3 load):
        // slot 0 identity-maps the first 2 MiB, which holds the trampoline page; the kernel
        // half is the boot CPU's, so the jump to percy_ap_entry lands in kernel text.
        static TrampolineParams* InstallTrampoline(ulong page)
        {
            ulong* info = stackalloc ulong[5];
            TrampolineCode(info);
            byte* dst = (byte*)DirectMap.ToVirtual(page);
            Memory.Move(dst, (byte*)info[0], (nuint)info[1]);

            s_tables = (ulong*)info[3];
            ulong tablesPhys = info[3] - AddressSpace.KernelImageBase;
            ulong* pml4 = s_tables, pdpt = s_tables + PageTable.Entries, pd = s_tables + 2 * PageTable.Entries;
            ulong* bsp = (ulong*)DirectMap.ToVirtual(KernelPageTables.CpuRoots[0]);
            for (int s = AddressSpace.KernelHalfFirstSlot; s < PageTable.Entries; s++)
                pml4[s] = s == AddressSpace.LocalWindowSlot ? 0 : bsp[s];
            pml4[0] = (tablesPhys + Page) | PageFlags.Table;
            pdpt[0] = (tablesPhys + 2 * Page) | PageFlags.Table;
            pd[0] = 0 | PageFlags.Present | PageFlags.Writable | PageFlags.Large;   // 0..2 MiB, executable

            var par = (TrampolineParams*)(dst + ParamsOffset);
            ulong gdtOffset = (ulong)((byte*)&par->GdtNull - dst);
            par->GdtNull = 0;
            par->GdtCode = Gdt.CodeDescriptor;
            par->GdtData = Gdt.DataDescriptor;
            par->GdtLimit = 3 * sizeof(ulong) - 1;
            par->GdtBase = (uint)(page + gdtOffset);
            par->JumpOffset = (uint)(page + info[2]);
            par->JumpSelector = Gdt.KernelCode;
            par->Cr3 = (uint)(tablesPhys & CodeMask);
            par->Cr4 = (uint)(Cpu.ReadCr4() & ~Cr4PcidEnable);
            par->Cr0 = (uint)Cpu.ReadCr0();
            par->Efer = (uint)(Cpu.ReadMsr(EferMsr) & ~EferLongModeActive);
            par->Entry = info[4];
            return par;
        }

        static bool NeedsInitDelay()
        {
            uint* vendor = stackalloc uint[4], signature = stackalloc uint[4];
            Cpu.CpuId(Cpu.CpuidBasicLeaf, 0, vendor);
            Cpu.CpuId(Cpu.CpuidFeatureLeaf, 0, signature);
            return InitDelay.Needed(vendor[Cpu.Ebx], vendor[Cpu.Edx], vendor[Cpu.Ecx], signature[Cpu.Eax]);
        }

        static bool Start(PerCpu* p, TrampolineParams* par, ulong page)
        {
            par->StackTop = p->StackTop;
            par->PerCpu = (ulong)p;
            par->Root = KernelPageTables.CpuRoots[p->Number];
            par->Arrived = 0;
            bool skip = p->Number == Cpus.SkipStartupCpu;
            if (!skip) Apic.SendStartup(p->ApicId, page);
            // Wait up to 200 us for a sign of life; an AP that is already running ignores
            // a second SIPI, so sending it when in doubt is safe.
            ulong deadline = Clock.DeadlineAfterMs(0) + Clock.TscPerMs * StartupDelayUs / 1000;
            while (par->Arrived == 0 && !Clock.Passed(deadline)) Cpu.Pause();
            if (par->Arrived == 0 && !skip) Apic.SendStartup(p->ApicId, page);
            deadline = Clock.DeadlineAfterMs(ArrivalTimeoutMs);
            while (p->State != (int)CpuState.Online)
            {
                if (Clock.Passed(deadline)) return false;
                Cpu.Pause();
            }
            return true;
        }

        // For panics: halt every other online CPU with an NMI (Interrupts.Dispatch sees
        // Panic.InProgress and halts). Harmless before the LAPIC is up or with one CPU.
        public static void StopOtherCpus()
        {
            if (Cpus.Online == null || Cpus.OnlineCount < 2) return;
            Apic.SendNmiToOthers();
        }

        // The identity mapping was only for APs in transit.
        static void RemoveIdentityMapping()
        {
            if (s_tables == null) return;
            s_tables[0] = 0;
        }

        // First C# code on an AP: percy_ap_entry has loaded the CPU's own PML4 (whose
        // local window is this CPU's unit) and its stack. Set GS, load the GDT/TSS and IDT, enable the LAPIC, go online, then idle
        // with interrupts on (hlt: idle CPUs must not spin; an IPI wakes them), running any
        // work queued for this CPU (SmpCall.QueueWork).
        [RuntimeExport("ApMain")]
        static void ApMain(PerCpu* cpu)
        {
            PerCpu.InstallGsBase(cpu->Number);
            Gdt.Load(&cpu->Gdt);
            Idt.LoadThisCpu();
            Apic.InitThisCpu(false);
            uint apicId = Apic.CurrentId();
            if (apicId != cpu->ApicId)
                Log.Warn($"smp: warning: cpu {cpu->Number} expected APIC id {cpu->ApicId}, runs with {apicId}");
            cpu->ArrivalMs = Clock.MillisecondsSinceBoot();
            Cpus.MarkOnline(cpu);
            for (;;)
            {
                SmpCall.RunQueuedWork();
                Cpu.WaitForInterrupt();
            }
        }
    }
}
