// KTAP suite `smp`: cross-CPU calls on the live machine.
using Percy.Kernel.Arch;
using Percy.Kernel.Percpu;
using Percy.Kernel.SelfTest;

namespace Percy.Kernel.Smp
{
    internal static unsafe class SmpTests
    {
        const int Unwritten = -1;
        const ulong TimeoutMs = 2000;

        public static void Register()
        {
            SelfTests.Register("smp", "masks_consistent", &MasksConsistent);
            SelfTests.Register("smp", "gs_base_is_percpu_unit_on_every_cpu", &GsBaseIsPerCpuUnit);
            SelfTests.Register("smp", "every_cpu_runs_call", &EveryCpuRunsCall);
            SelfTests.Register("smp", "single_cpu_call", &SingleCpuCall);
            SelfTests.Register("smp", "wait_and_no_wait", &WaitAndNoWait);
            SelfTests.Register("smp", "many_calls_in_flight", &ManyCallsInFlight);
            SelfTests.Register("smp", "lapic_timer_interrupts", &LapicTimerInterrupts);
        }

        // Back-to-back non-waiting calls to every CPU: callers queue behind unread
        // mailboxes, and no request is lost or run twice.
        static void ManyCallsInFlight(TestContext* t)
        {
            const int Rounds = 100;
            var g = (Gate*)Heap.Allocate((ulong)sizeof(Gate));
            for (int i = 0; i < Rounds; i++) SmpCall.Call(SmpCall.AllCpus, &CountCall, g, false);
            ulong expected = (ulong)(Rounds * Cpus.OnlineCount);
            ulong deadline = Clock.DeadlineAfterMs(TimeoutMs);
            while ((ulong)g->Finished < expected && !Clock.Passed(deadline)) Cpu.Pause();
            t->ExpectEqual((ulong)g->Finished, expected, "calls run");
            Heap.Free(g);
        }

        // The calibrated LAPIC timer, armed for 1 ms, interrupts this CPU; the wait halts.
        static void LapicTimerInterrupts(TestContext* t)
        {
            t->Expect(Apic.TimerTicksPerMs > 0, "timer calibrated");
            int before = Apic.TimerInterrupts;
            ulong start = Clock.NanosecondsSinceBoot();
            ulong flags = Irq.Save();
            Apic.StartOneShot(Apic.TimerTicksPerMs);
            ulong deadline = Clock.DeadlineAfterMs(TimeoutMs);
            while (Apic.TimerInterrupts == before && !Clock.Passed(deadline)) Cpu.WaitForInterrupt();
            Irq.Restore(flags);
            ulong us = (Clock.NanosecondsSinceBoot() - start) / 1000;
            t->ExpectEqual((ulong)(Apic.TimerInterrupts - before), 1, "one timer interrupt");
            t->Note($"1 ms one-shot fired after {us} us");
        }

        static void MasksConsistent(TestContext* t)
        {
            int online = 0;
            for (int c = 0; c < Cpus.NrCpuIds; c++)
            {
                if (Cpus.Online.Has(c)) online++;
                t->Expect(!Cpus.Online.Has(c) || Cpus.Present.Has(c), "online CPUs are present");
                t->Expect(!Cpus.Present.Has(c) || Cpus.Possible.Has(c), "present CPUs are possible");
                t->Expect(Cpus.Online.Has(c) == (Cpus.Area(c)->State == (int)CpuState.Online), "online mask matches the CPU's state");
            }
            t->ExpectEqual((ulong)online, (ulong)Cpus.OnlineCount, "online count");
            t->ExpectEqual((ulong)Cpus.PossibleCount, (ulong)Cpus.NrCpuIds, "possible CPUs are numbered densely");
            t->Expect(Cpus.Online.Has(0), "the boot CPU is online");
            t->Note($"{Cpus.OnlineCount} online, {Cpus.PresentCount} present, {Cpus.PossibleCount} possible");
        }

        // On every CPU: GS base is the CPU's unit, smp_processor_id() read through GS (asm)
        // and through the local window (C#) agree, and so do the LAPIC and the CPU's area.
        static void CheckGsBase(void* wrong)
        {
            int me = Cpus.ThisCpu;
            bool right = PerCpu.ReadGsBase() == PerCpuLayout.UnitBase(me) && PerCpu.ReadNumberThroughGs() == me
                      && Cpus.Area(me)->Number == me && Apic.CurrentId() == Cpus.Area(me)->ApicId;
            if (!right) Atomic.Add((int*)wrong, 1);
        }

        static void GsBaseIsPerCpuUnit(TestContext* t)
        {
            int wrong = 0;
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &CheckGsBase, &wrong, true), "the call ran on every CPU");
            t->ExpectEqual((ulong)wrong, 0, "CPUs whose GS base, number or APIC id disagree");
            t->ExpectEqual(Boot.CpuId, (ulong)Cpus.ThisCpu, "Boot.CpuId");
        }

        // Each CPU writes its logical number (from GS) and its LAPIC id into its own slot.
        struct Slots { public int* Cpu; public uint* Apic; }

        static void RecordCpu(void* arg)
        {
            var s = (Slots*)arg;
            int me = (int)Boot.CpuId;
            s->Cpu[me] = me;
            s->Apic[me] = Apic.CurrentId();
        }

        static Slots NewSlots()
        {
            Slots s;
            s.Cpu = (int*)Heap.Allocate((ulong)(Cpus.NrCpuIds * sizeof(int)));
            s.Apic = (uint*)Heap.Allocate((ulong)(Cpus.NrCpuIds * sizeof(uint)));
            for (int c = 0; c < Cpus.NrCpuIds; c++) s.Cpu[c] = Unwritten;
            return s;
        }

        static void FreeSlots(Slots s)
        {
            Heap.Free(s.Cpu);
            Heap.Free(s.Apic);
        }

        static void EveryCpuRunsCall(TestContext* t)
        {
            Slots s = NewSlots();
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &RecordCpu, &s, true), "call to all CPUs accepted");
            for (int c = 0; c < Cpus.NrCpuIds; c++)
            {
                if (Cpus.Online.Has(c))
                {
                    t->ExpectEqual((ulong)s.Cpu[c], (ulong)c, "online CPU wrote its id into its slot");
                    t->ExpectEqual(s.Apic[c], Cpus.Area(c)->ApicId, "and its APIC id");
                }
                else t->ExpectEqual((ulong)(long)s.Cpu[c], unchecked((ulong)(long)Unwritten), "offline CPU's slot untouched");
            }
            t->Note($"{Cpus.OnlineCount} CPUs ran the call");
            FreeSlots(s);
        }

        static void SingleCpuCall(TestContext* t)
        {
            int target = 0;
            for (int c = 0; c < Cpus.NrCpuIds; c++) if (Cpus.Online.Has(c)) target = c;   // the last online CPU
            Slots s = NewSlots();
            t->Expect(SmpCall.Call(target, &RecordCpu, &s, true), "call to one CPU accepted");
            for (int c = 0; c < Cpus.NrCpuIds; c++)
                t->ExpectEqual((ulong)(long)s.Cpu[c], c == target ? (ulong)c : unchecked((ulong)(long)Unwritten), "only the target wrote");
            int offline = -1;
            for (int c = 0; c < Cpus.NrCpuIds; c++) if (!Cpus.Online.Has(c)) offline = c;
            if (offline >= 0) t->Expect(!SmpCall.Call(offline, &RecordCpu, &s, true), "call to an offline CPU refused");
            t->Expect(!SmpCall.Call(Cpus.NrCpuIds, &RecordCpu, &s, true), "call to a CPU number beyond nr_cpu_ids refused");
            t->Note($"target cpu {target}");
            FreeSlots(s);
        }

        // A function that holds its CPU until released, so the caller can see whether
        // Call returned before or after it finished.
        struct Gate { public int Release; public int Finished; public int Started; }

        static void HeldCall(void* arg)
        {
            var g = (Gate*)arg;
            Atomic.Add(&g->Started, 1);
            ulong deadline = Clock.DeadlineAfterMs(TimeoutMs);
            while (g->Release == 0 && !Clock.Passed(deadline)) Cpu.Pause();
            Atomic.Add(&g->Finished, 1);
        }

        static void CountCall(void* arg)
        {
            var g = (Gate*)arg;
            Atomic.Add(&g->Finished, 1);
        }

        static void WaitAndNoWait(TestContext* t)
        {
            int target = -1;
            for (int c = 0; c < Cpus.NrCpuIds; c++) if (c != Cpus.ThisCpu && Cpus.Online.Has(c)) target = c;
            var g = (Gate*)Heap.Allocate((ulong)sizeof(Gate));

            // wait=true: every CPU has finished when Call returns.
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &CountCall, g, true), "waiting call accepted");
            t->ExpectEqual((ulong)g->Finished, (ulong)Cpus.OnlineCount, "waiting call: all finished on return");

            if (target < 0)
            {
                Heap.Free(g);
                t->Skip("one CPU online: no other CPU to call without waiting");
                return;
            }
            // wait=false: returns while the target still holds the request.
            g->Finished = 0;
            t->Expect(SmpCall.Call(target, &HeldCall, g, false), "non-waiting call accepted");
            t->ExpectEqual((ulong)g->Finished, 0, "non-waiting call returned before the function finished");
            ulong deadline = Clock.DeadlineAfterMs(TimeoutMs);
            while (g->Started == 0 && !Clock.Passed(deadline)) Cpu.Pause();
            t->ExpectEqual((ulong)g->Started, 1, "the target started the function");
            Atomic.Exchange(&g->Release, 1);
            while (g->Finished == 0 && !Clock.Passed(deadline)) Cpu.Pause();
            t->ExpectEqual((ulong)g->Finished, 1, "the target finished after release");
            Heap.Free(g);
        }
    }
}
