// Cross-CPU function calls: smp_call_function(cpu or all, fn, arg, wait).
//
// Each CPU has a one-request mailbox in its PerCpu area. A caller takes the target's
// mailbox (spinning while an earlier request is still unread), writes fn/arg, marks it
// pending and sends the call IPI (Apic.CallVector); the target's handler copies the
// request out, frees the mailbox, runs fn(arg) with interrupts off, and, if the caller
// waits, counts itself done. A halted CPU wakes on the IPI. Calls to the running CPU
// run directly, with interrupts off, as they would in the handler.
//
// Rules: fn must be short and must not make cross-CPU calls itself (it runs in an
// interrupt handler). A waiting caller may have interrupts off, since only the
// targets do work; two CPUs waiting on each other would deadlock, which the rule above
// excludes. Requests to one target run in the order they were posted.
using Percy.Kernel.Arch;

namespace Percy.Kernel.Smp
{
    internal static unsafe class SmpCall
    {
        public const int AllCpus = -1;

        // Runs fn(arg) on `cpu`, or on every online CPU (the caller included) with AllCpus.
        // With wait, returns when every target has finished fn; without, as soon as every
        // target holds the request. False when `cpu` is not online.
        public static bool Call(int cpu, delegate*<void*, void> fn, void* arg, bool wait)
        {
            int self = Cpus.ThisCpu;
            int done = 0, posted = 0;
            int* counter = wait ? &done : null;
            if (cpu != AllCpus)
            {
                if (cpu < 0 || cpu >= Cpus.NrCpuIds || !Cpus.Online.Has(cpu)) return false;
                if (cpu == self) RunHere(fn, arg);
                else
                {
                    Post(Cpus.Area(cpu), fn, arg, counter);
                    posted = 1;
                }
            }
            else
            {
                for (int c = 0; c < Cpus.NrCpuIds; c++)
                {
                    if (c == self || !Cpus.Online.Has(c)) continue;
                    Post(Cpus.Area(c), fn, arg, counter);
                    posted++;
                }
                RunHere(fn, arg);
            }
            if (wait)
                while (done != posted) Cpu.Pause();  // `done` is bumped by the targets (Atomic.Add)
            return true;
        }

        // Queues fn(arg) to run on another online CPU's idle loop with interrupts ON, for
        // long work that must itself take cross-CPU calls (the module refcount storm test:
        // gets and puts while another CPU's rmmod synchronises with every CPU). Only the
        // APs idle in RunQueuedWork; false for the calling CPU, the boot CPU, a CPU that is
        // not online, or one whose earlier work has not finished.
        public static bool QueueWork(int cpu, delegate*<void*, void> fn, void* arg)
        {
            if (cpu <= 0 || cpu == Cpus.ThisCpu || cpu >= Cpus.NrCpuIds || !Cpus.Online.Has(cpu) || fn == null) return false;
            PerCpu* target = Cpus.Area(cpu);
            if (target->WorkFunction != null) return false;
            QueuedWork work = new QueuedWork { Function = fn, Argument = arg };
            Call(cpu, &SetWork, &work, true);
            return true;
        }

        // True while work queued on `cpu` has not returned.
        public static bool WorkPending(int cpu) => cpu > 0 && cpu < Cpus.NrCpuIds && Cpus.Area(cpu)->WorkFunction != null;

        struct QueuedWork { public delegate*<void*, void> Function; public void* Argument; }

        static void SetWork(void* arg)
        {
            PerCpu* self = Cpus.ThisArea;
            self->WorkArgument = ((QueuedWork*)arg)->Argument;
            self->WorkFunction = ((QueuedWork*)arg)->Function;
        }

        // An AP's idle loop, interrupts off: runs queued work with interrupts on.
        public static void RunQueuedWork()
        {
            PerCpu* self = Cpus.ThisArea;
            delegate*<void*, void> fn = self->WorkFunction;
            if (fn == null) return;
            Cpu.EnableInterrupts();
            fn(self->WorkArgument);
            Cpu.DisableInterrupts();
            self->WorkFunction = null;
        }

        static void RunHere(delegate*<void*, void> fn, void* arg)
        {
            ulong flags = Irq.Save();
            fn(arg);
            Irq.Restore(flags);
        }

        static void Post(PerCpu* target, delegate*<void*, void> fn, void* arg, int* done)
        {
            while (Atomic.CompareExchange(&target->CallBusy, 0, 1) != 0) Cpu.Pause();
            target->CallFunction = fn;
            target->CallArgument = arg;
            target->CallDone = done;
            target->CallPending = 1;                  // x86 stores are ordered: fn/arg are visible first
            Apic.SendIpi(target->ApicId, Apic.CallVector);
        }

        // The call IPI's handler (Interrupts.Dispatch), on the target, interrupts off.
        public static void HandleIpi()
        {
            PerCpu* self = Cpus.ThisArea;
            if (self->CallPending == 0) return;
            delegate*<void*, void> fn = self->CallFunction;
            void* arg = self->CallArgument;
            int* done = self->CallDone;
            self->CallPending = 0;
            Atomic.Exchange(&self->CallBusy, 0);    // the next caller may post now
            self->CallsHandled++;
            fn(arg);
            if (done != null) Atomic.Add(done, 1);
        }
    }
}
