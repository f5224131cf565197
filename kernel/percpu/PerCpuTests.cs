// KTAP suite `percpu`: the static per-CPU section as linked, and the first chunk on the
// running machine — every CPU reaching its own copy through the local window, and every
// copy reachable from any CPU through its global address.
using Percy.Kernel.Arch;
using Percy.Kernel.SelfTest;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe class PerCpuTests
    {
        public static void Register()
        {
            SelfTests.Register("percpu", "image_matches_generated_layout", &ImageMatchesGeneratedLayout);
            SelfTests.Register("percpu", "template_holds_initial_values", &TemplateHoldsInitialValues);
            SelfTests.Register("percpu", "initial_values_on_every_cpu", &InitialValuesOnEveryCpu);
            SelfTests.Register("percpu", "this_cpu_increments_are_per_cpu", &ThisCpuIncrementsArePerCpu);
            SelfTests.Register("percpu", "isolation_all_cpus_write_at_once", &Isolation);
            SelfTests.Register("percpu", "array_16800_bytes_on_every_cpu", &BigArray);
        }

        static void InitialValuesOnEveryCpu(TestContext* t)
        {
            int wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
            {
                if (PerCpuExamples.MagicOn(cpu) != PerCpuExamples.MagicValue) wrong++;
                if (PerCpuExamples.InitialisedStatsOn(cpu).Events != 1) wrong++;
            }
            t->Note($"{FirstChunk.Layout.Units} units checked");
            t->ExpectEqual((ulong)wrong, 0, "copies without their initial value");
        }

        // Each CPU adds its number + 1 to its own counter through the local window (the
        // same address on every CPU); each copy must then hold exactly its own CPU's sum.
        static void IncrementOwnCounter(void* unused)
        {
            int self = Cpus.ThisCpu;
            for (int i = 0; i <= self; i++) PerCpuExamples.ProbeCounter++;
        }

        static void ThisCpuIncrementsArePerCpu(TestContext* t)
        {
            long* before = stackalloc long[FirstChunk.Layout.Units];
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++) before[cpu] = PerCpuExamples.ProbeCounterOn(cpu);
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &IncrementOwnCounter, null, true), "the call ran on every CPU");
            int wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
            {
                long expected = Cpus.Online.Has(cpu) ? cpu + 1 : 0;
                if (PerCpuExamples.ProbeCounterOn(cpu) - before[cpu] != expected) wrong++;
            }
            t->Note($"{Cpus.OnlineCount} CPUs incremented their own copy");
            t->ExpectEqual((ulong)wrong, 0, "copies with another CPU's increments");
        }

        static void WriteOwnNumber(void* unused) => PerCpuExamples.Stats.Cpu = Cpus.ThisCpu;

        static void Isolation(TestContext* t)
        {
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++) PerCpuExamples.StatsOn(cpu).Cpu = -1;
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &WriteOwnNumber, null, true), "the call ran on every CPU");
            int wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
                if (PerCpuExamples.StatsOn(cpu).Cpu != (Cpus.Online.Has(cpu) ? cpu : -1)) wrong++;
            t->ExpectEqual((ulong)wrong, 0, "copies not holding their own CPU's number");
        }

        // Seed 002's test module as a static variable: every CPU fills its int[4200] with
        // 10000 + x; each copy must hold exactly that.
        static void FillBig(void* unused)
        {
            ref Int4200 big = ref PerCpuExamples.Big;
            for (int x = 0; x < Int4200.Length; x++) big.Items[x] = 10000 + x;
        }

        static void BigArray(TestContext* t)
        {
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &FillBig, null, true), "the call ran on every CPU");
            int wrong = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
            {
                if (!Cpus.Online.Has(cpu)) continue;
                ref Int4200 big = ref PerCpuExamples.BigOn(cpu);
                for (int x = 0; x < Int4200.Length; x++) if (big.Items[x] != 10000 + x) wrong++;
            }
            t->Note($"{Cpus.OnlineCount} copies of {Int4200.Length * sizeof(int)} bytes checked");
            t->ExpectEqual((ulong)wrong, 0, "wrong elements");
        }

        static void ImageMatchesGeneratedLayout(TestContext* t)
        {
            PerCpuImage image = PerCpuImage.Current;
            t->Note($"template at {image.Load:x16}, {image.Size} bytes");
            t->Expect(image.MatchesGeneratedLayout, "the linked section has the generated size and starts at offset 0");
            KernelLayout k = KernelLayout.Current;
            t->Expect(image.Load >= k.RodataStart && image.Load + image.Size <= k.DataStart, "the template lies in the read-only part of the image");
        }

        static void TemplateHoldsInitialValues(TestContext* t)
        {
            byte* template = (byte*)PerCpuImage.Current.Load;
            t->ExpectEqual(*(ulong*)(template + PerCpuExamples.MagicOffset), PerCpuExamples.MagicValue, "Magic's initial value");
            t->ExpectEqual(*(uint*)(template + PerCpuExamples.AnswerOffset), 42, "Answer's initial value");
            t->ExpectEqual(*(ulong*)(template + PerCpuExamples.ProbeCounterOffset), 0, "ProbeCounter starts at zero");
        }
    }
}
