// Where every interrupt lands (from interrupts.asm), on any CPU. CPU exceptions are
// fatal unless a handler claims them; legacy IRQs (8259, boot CPU only) go to the
// handler registered for their line, whether the I/O APIC or the 8259 delivered them
// (vector 0x20 + line either way); local APIC vectors (IPIs, errors) to Apic/SmpCall.
using System.Runtime;

namespace Percy.Kernel.Arch
{
    internal static unsafe class Interrupts
    {
        public const int Exceptions = 32;
        public const int Breakpoint = 3;
        const int SpuriousMaster = 7, SpuriousSlave = 15;

        static delegate*<void>* s_irqHandlers;
        static ulong s_breakpoints;

        public static ulong BreakpointCount => s_breakpoints;

        public static void Init()
        {
            s_irqHandlers = (delegate*<void>*)Heap.Allocate((ulong)(Pic.Lines * sizeof(void*)));
            Idt.Build();
            Idt.LoadThisCpu();
            Pic.Init();
        }

        public static void SetIrqHandler(int line, delegate*<void> handler)
        {
            s_irqHandlers[line] = handler;
            if (IoApic.Active) IoApic.Route(line);
            else Pic.Unmask(line);
        }

        // Moves legacy IRQs from the 8259 PIC to the I/O APIC(s), when the MADT has one
        // (after Apic.InitBootCpu): lines already in use are routed anew, then the PIC and
        // the boot CPU's LINT0 are masked so no interrupt arrives by both paths.
        public static void UseIoApic(Acpi.MadtInfo madt)
        {
            if (!IoApic.Init(madt)) return;
            for (int line = 0; line < Pic.Lines; line++)
                if (s_irqHandlers[line] != null) IoApic.Route(line);
            Pic.MaskAll();
            Apic.MaskLegacyInput();
            Log.Info("interrupts: legacy IRQs through the I/O APIC, 8259 PIC masked");
        }

        [RuntimeExport("InterruptDispatch")]
        static void Dispatch(InterruptFrame* frame)
        {
            ulong vector = frame->Vector;
            if (vector == Breakpoint)
            {
                // int3 is a trap: RIP already points past it, so returning resumes.
                s_breakpoints++;
                return;
            }
            if (vector == FaultProbe.PageFaultVector && FaultProbe.TryRecover(frame)) return;
            // Another CPU panicked and stopped this one (SmpBoot.StopOtherCpus).
            if (vector == Idt.Nmi && Panic.InProgress) Cpu.HaltForever();
            if (vector < Exceptions)
            {
                Panic.Exception(frame);
                return;
            }
            if (vector < Pic.VectorBase + Pic.Lines && IoApic.Active)
            {
                int irq = (int)vector - Pic.VectorBase;
                if (s_irqHandlers[irq] != null) s_irqHandlers[irq]();
                Apic.EndOfInterrupt();
                return;
            }
            if (vector < Pic.VectorBase + Pic.Lines)
            {
                int line = (int)vector - Pic.VectorBase;
                // A spurious IRQ 7/15 is not in service and must not get an EOI on its own PIC.
                if (line == SpuriousMaster || line == SpuriousSlave)
                {
                    if (s_irqHandlers[line] == null)
                    {
                        if (line == SpuriousSlave) Pic.EndOfInterruptFor(0);
                        return;
                    }
                }
                if (s_irqHandlers[line] != null) s_irqHandlers[line]();
                Pic.EndOfInterruptFor(line);
                return;
            }
            // Local APIC vectors. Spurious interrupts were never in service: no EOI.
            switch ((int)vector)
            {
                case Apic.CallVector:
                    Smp.SmpCall.HandleIpi();
                    Apic.EndOfInterrupt();
                    return;
                case Apic.SpuriousVector:
                    Apic.HandleSpurious();
                    return;
                case Apic.ErrorVector:
                    Apic.HandleError();
                    return;
                case Apic.TimerVector:
                    Apic.HandleTimer();
                    return;
            }
            Log.Warn($"interrupts: unexpected vector {vector} on cpu {Boot.CpuId}");
        }
    }
}
