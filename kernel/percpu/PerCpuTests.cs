// KTAP suite `percpu`: the static per-CPU section as linked, and the first chunk on the
// running machine — every CPU reaching its own copy through the local window, and every
// copy reachable from any CPU through its global address.
using Percy.Kernel.Arch;
using Percy.Kernel.SelfTest;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Percpu
{
    internal static unsafe partial class PerCpuTests
    {
        // One variable per integer size and signedness, for Linux's lib/percpu_test.c cases.
        [DefinePerCpu] static partial ref sbyte S8 { get; }
        [DefinePerCpu] static partial ref byte U8 { get; }
        [DefinePerCpu] static partial ref short S16 { get; }
        [DefinePerCpu] static partial ref ushort U16 { get; }
        [DefinePerCpu] static partial ref int S32 { get; }
        [DefinePerCpu] static partial ref uint U32 { get; }
        [DefinePerCpu] static partial ref long S64 { get; }
        [DefinePerCpu] static partial ref ulong U64 { get; }

        public static void Register()
        {
            SelfTests.Register("percpu", "image_matches_generated_layout", &ImageMatchesGeneratedLayout);
            SelfTests.Register("percpu", "template_holds_initial_values", &TemplateHoldsInitialValues);
            SelfTests.Register("percpu", "initial_values_on_every_cpu", &InitialValuesOnEveryCpu);
            SelfTests.Register("percpu", "this_cpu_increments_are_per_cpu", &ThisCpuIncrementsArePerCpu);
            SelfTests.Register("percpu", "isolation_all_cpus_write_at_once", &Isolation);
            SelfTests.Register("percpu", "array_16800_bytes_on_every_cpu", &BigArray);
            SelfTests.Register("percpu", "this_cpu_ops_every_size_on_every_cpu", &ThisCpuOps);
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

        // Linux's lib/percpu_test.c, for every size and signedness: write, add and sub of
        // +1 and -1 (as Linux adds the unsigned int 1 and -1 to a long), inc and dec,
        // wrap-around at both ends, xchg and cmpxchg (hit and miss). Each case that does
        // not hold counts one; each CPU ends by leaving its own number in every variable.
        static void PercpuTestCases(void* wrong)
        {
            int me = Cpus.ThisCpu, bad = 0;

            S8 = 0; S8 += -1; bad += S8 == -1 ? 0 : 1; S8 -= -1; bad += S8 == 0 ? 0 : 1;
            S8--; bad += S8 == -1 ? 0 : 1; S8++; S8++; bad += S8 == 1 ? 0 : 1;
            S8 = sbyte.MaxValue; S8++; bad += S8 == sbyte.MinValue ? 0 : 1;
            U8 = 0; U8 += unchecked((byte)-1); bad += U8 == byte.MaxValue ? 0 : 1; U8++; bad += U8 == 0 ? 0 : 1;
            U8--; bad += U8 == byte.MaxValue ? 0 : 1; U8 -= byte.MaxValue; bad += U8 == 0 ? 0 : 1;

            S16 = 0; S16 += -1; bad += S16 == -1 ? 0 : 1; S16 -= -1; bad += S16 == 0 ? 0 : 1;
            S16--; bad += S16 == -1 ? 0 : 1; S16++; S16++; bad += S16 == 1 ? 0 : 1;
            S16 = short.MaxValue; S16++; bad += S16 == short.MinValue ? 0 : 1;
            U16 = 0; U16 += unchecked((ushort)-1); bad += U16 == ushort.MaxValue ? 0 : 1; U16++; bad += U16 == 0 ? 0 : 1;
            U16--; bad += U16 == ushort.MaxValue ? 0 : 1; U16 -= ushort.MaxValue; bad += U16 == 0 ? 0 : 1;

            uint uiOne = 1, uiMinusOne = unchecked((uint)-1);
            S32 = 0; S32 += -1; bad += S32 == -1 ? 0 : 1; S32 -= -1; bad += S32 == 0 ? 0 : 1;
            S32--; bad += S32 == -1 ? 0 : 1; S32++; S32++; bad += S32 == 1 ? 0 : 1;
            S32 = int.MaxValue; S32++; bad += S32 == int.MinValue ? 0 : 1;
            U32 = 0; U32 += uiMinusOne; bad += U32 == uint.MaxValue ? 0 : 1; U32 += uiOne; bad += U32 == 0 ? 0 : 1;
            U32--; bad += U32 == uint.MaxValue ? 0 : 1; U32++; bad += U32 == 0 ? 0 : 1;

            S64 = 0; S64 += -1; bad += S64 == -1 ? 0 : 1; S64 -= -1; bad += S64 == 0 ? 0 : 1;
            S64 += uiOne; bad += S64 == 1 ? 0 : 1; S64 -= uiOne; bad += S64 == 0 ? 0 : 1;
            S64--; bad += S64 == -1 ? 0 : 1; S64++; bad += S64 == 0 ? 0 : 1;
            S64 = long.MaxValue; S64++; bad += S64 == long.MinValue ? 0 : 1;
            U64 = 0; U64 += unchecked((ulong)-1); bad += U64 == ulong.MaxValue ? 0 : 1; U64 += uiOne; bad += U64 == 0 ? 0 : 1;
            U64 -= uiOne; bad += U64 == ulong.MaxValue ? 0 : 1; U64++; bad += U64 == 0 ? 0 : 1;
            U64--; bad += U64 == ulong.MaxValue ? 0 : 1;

            // xchg returns the old value; cmpxchg stores only on a match, returns the old value.
            bad += ThisCpu.Exchange(ref S8, (sbyte)-2) == sbyte.MinValue && S8 == -2 ? 0 : 1;
            bad += ThisCpu.Exchange(ref U8, (byte)200) == 0 && U8 == 200 ? 0 : 1;
            bad += ThisCpu.Exchange(ref S16, (short)-300) == short.MinValue && S16 == -300 ? 0 : 1;
            bad += ThisCpu.Exchange(ref U16, (ushort)60000) == 0 && U16 == 60000 ? 0 : 1;
            bad += ThisCpu.Exchange(ref S32, -70000) == int.MinValue && S32 == -70000 ? 0 : 1;
            bad += ThisCpu.Exchange(ref U32, 4000000000u) == 0 && U32 == 4000000000u ? 0 : 1;
            bad += ThisCpu.Exchange(ref S64, -5000000000L) == long.MinValue && S64 == -5000000000L ? 0 : 1;
            bad += ThisCpu.Exchange(ref U64, ulong.MaxValue - 1) == ulong.MaxValue && U64 == ulong.MaxValue - 1 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S8, (sbyte)5, (sbyte)7) == -2 && S8 == -2 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S8, (sbyte)-2, (sbyte)(me & 0x7F)) == -2 && S8 == (sbyte)(me & 0x7F) ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U8, (byte)5, (byte)7) == 200 && U8 == 200 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U8, (byte)200, (byte)me) == 200 && U8 == (byte)me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S16, (short)5, (short)7) == -300 && S16 == -300 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S16, (short)-300, (short)me) == -300 && S16 == me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U16, (ushort)5, (ushort)7) == 60000 && U16 == 60000 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U16, (ushort)60000, (ushort)me) == 60000 && U16 == me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S32, 5, 7) == -70000 && S32 == -70000 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S32, -70000, me) == -70000 && S32 == me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U32, 5u, 7u) == 4000000000u && U32 == 4000000000u ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U32, 4000000000u, (uint)me) == 4000000000u && U32 == (uint)me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S64, 5L, 7L) == -5000000000L && S64 == -5000000000L ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref S64, -5000000000L, me) == -5000000000L && S64 == me ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U64, 5ul, 7ul) == ulong.MaxValue - 1 && U64 == ulong.MaxValue - 1 ? 0 : 1;
            bad += ThisCpu.CompareExchange(ref U64, ulong.MaxValue - 1, (ulong)me) == ulong.MaxValue - 1 && U64 == (ulong)me ? 0 : 1;
            if (bad != 0) Atomic.Add((int*)wrong, bad);
        }

        static void ThisCpuOps(TestContext* t)
        {
            int wrong = 0;
            t->Expect(SmpCall.Call(SmpCall.AllCpus, &PercpuTestCases, &wrong, true), "the call ran on every CPU");
            t->ExpectEqual((ulong)wrong, 0, "this_cpu cases that did not hold");
            int foreign = 0;
            for (int cpu = 0; cpu < FirstChunk.Layout.Units; cpu++)
            {
                if (!Cpus.Online.Has(cpu)) continue;
                bool own = S8On(cpu) == (sbyte)(cpu & 0x7F) && U8On(cpu) == (byte)cpu && S16On(cpu) == cpu && U16On(cpu) == cpu
                        && S32On(cpu) == cpu && U32On(cpu) == (uint)cpu && S64On(cpu) == cpu && U64On(cpu) == (ulong)cpu;
                if (!own) foreign++;
            }
            t->Note($"{Cpus.OnlineCount} CPUs ran {8} variables through their local window");
            t->ExpectEqual((ulong)foreign, 0, "copies not holding their own CPU's number (read through per_cpu)");
        }
    }
}
