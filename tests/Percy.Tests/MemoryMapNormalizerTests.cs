using Percy.Kernel;
using System;
using System.Collections.Generic;
using System.Linq;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Percy.Kernel.Multiboot;
using Xunit;

namespace Percy.Tests
{
    public class MemoryMapNormalizerTests
    {
        const uint Avail = MemoryRegionType.Available, Res = MemoryRegionType.Reserved,
                   Acpi = MemoryRegionType.AcpiReclaimable, Nvs = MemoryRegionType.AcpiNvs, Bad = MemoryRegionType.BadMemory;

        static MemoryRegion R(ulong b, ulong l, uint t) => new MemoryRegion(b, l, t);

        static (MemoryRegion[] regions, ulong usable, ProblemList warnings) Run(params MemoryRegion[] input)
        {
            var copy = (MemoryRegion[])input.Clone();
            var output = new MemoryRegion[Math.Max(1, 2 * input.Length)];
            var scratch = new ulong[2 * input.Length];
            var warnings = new ProblemList();
            int n = MemoryMapNormalizer.Normalize(input, input.Length, output, scratch, warnings, out ulong usable, out string error);
            Assert.True(n >= 0, error);
            Assert.Equal(copy, input);                  // the input is left untouched
            return (output.Take(n).ToArray(), usable, warnings);
        }

        [Fact]
        public void QemuMapIsSortedAndSummed()
        {
            var (r, usable, w) = Run(R(0x100000, 0x1FEE0000, Avail), R(0, 0x9FC00, Avail), R(0x9FC00, 0x400, Res),
                                     R(0xF0000, 0x10000, Res), R(0xFFFC0000, 0x40000, Res), R(0x1FFE0000, 0x20000, Res));
            Assert.Equal(new[] { R(0, 0x9FC00, Avail), R(0x9FC00, 0x400, Res), R(0xF0000, 0x10000, Res),
                                 R(0x100000, 0x1FEE0000, Avail), R(0x1FFE0000, 0x20000, Res), R(0xFFFC0000, 0x40000, Res) }, r);
            Assert.Equal(0x9FC00ul + 0x1FEE0000ul, usable);
            Assert.Equal(0, w.Count);
        }

        [Fact]
        public void ReservedWinsOverAvailableWhereTheyOverlap()
        {
            var (r, usable, _) = Run(R(0x1000, 0x9000, Avail), R(0x4000, 0x2000, Res));
            Assert.Equal(new[] { R(0x1000, 0x3000, Avail), R(0x4000, 0x2000, Res), R(0x6000, 0x4000, Avail) }, r);
            Assert.Equal(0x7000ul, usable);
        }

        [Fact]
        public void OverlappingAndAdjacentSameTypeRegionsMerge()
        {
            var (r, usable, _) = Run(R(0x1000, 0x2000, Avail), R(0x2000, 0x2000, Avail), R(0x4000, 0x1000, Avail), R(0x1000, 0x1000, Avail));
            Assert.Equal(new[] { R(0x1000, 0x4000, Avail) }, r);
            Assert.Equal(0x4000ul, usable);
        }

        [Fact]
        public void StrongerTypesWinInOrder()
        {
            // One range covered by every type: bad memory wins; then NVS, reserved, ACPI, available.
            var (r, _, _) = Run(R(0, 0x5000, Avail), R(0, 0x4000, Acpi), R(0, 0x3000, Res), R(0, 0x2000, Nvs), R(0, 0x1000, Bad));
            Assert.Equal(new[] { R(0, 0x1000, Bad), R(0x1000, 0x1000, Nvs), R(0x2000, 0x1000, Res), R(0x3000, 0x1000, Acpi), R(0x4000, 0x1000, Avail) }, r);
        }

        [Fact]
        public void UnknownTypesBecomeReserved()
        {
            var (r, usable, _) = Run(R(0, 0x2000, Avail), R(0x1000, 0x1000, 0), R(0x2000, 0x1000, 12), R(0x3000, 0x1000, 0xFFFFFFFF));
            Assert.Equal(new[] { R(0, 0x1000, Avail), R(0x1000, 0x3000, Res) }, r);
            Assert.Equal(0x1000ul, usable);
        }

        [Fact]
        public void ZeroLengthAndAbsurdEntriesAreDropped()
        {
            var (r, usable, w) = Run(R(0x5000, 0, Avail), R(0xFFFFFFFFFFFFF000, 0x2000, Avail),
                                     R(1ul << 52, 0x1000, Avail), R((1ul << 52) - 0x1000, 0x2000, Avail), R(0x1000, 0x1000, Avail),
                                     R((1ul << 52) - 0x1000, 0x1000, Avail));
            Assert.Equal(new[] { R(0x1000, 0x1000, Avail), R((1ul << 52) - 0x1000, 0x1000, Avail) }, r);
            Assert.Equal(0x2000ul, usable);
            Assert.Equal(3, w.Count);
            Assert.Equal(1u, w[0].Code);
            Assert.Equal("memory map entry base + length overflows 64 bits", w[0].Reason);
            Assert.Equal(2u, w[1].Code);
            Assert.Equal("memory map entry lies beyond the 52-bit physical address limit", w[1].Reason);
            Assert.Equal(3u, w[2].Code);
        }

        [Fact]
        public void EmptyInputGivesEmptyOutput()
        {
            var (r, usable, w) = Run();
            Assert.Empty(r);
            Assert.Equal(0ul, usable);
            Assert.Equal(0, w.Count);
        }

        [Fact]
        public void SmallOutputIsFilledThenReported()
        {
            var input = new[] { R(0, 0x1000, Avail), R(0x2000, 0x1000, Avail), R(0x4000, 0x1000, Avail) };
            var output = new MemoryRegion[2];
            var warnings = new ProblemList();
            int n = MemoryMapNormalizer.Normalize(input, 3, output, new ulong[6], warnings, out ulong usable, out _);
            Assert.Equal(2, n);
            Assert.Equal(0x2000ul, usable);
            Assert.Equal(1, warnings.Count);
            Assert.Equal("normalised memory map does not fit its output; the rest is dropped", warnings[0].Reason);
        }

        [Fact]
        public void BadArgumentsAreRefused()
        {
            var a = new MemoryRegion[4];
            Assert.Equal(-1, MemoryMapNormalizer.Normalize(null, 0, a, new ulong[8], null, out _, out string e));
            Assert.Equal("a memory map array is missing", e);
            Assert.Equal(-1, MemoryMapNormalizer.Normalize(a, 5, a, new ulong[10], null, out _, out e));
            Assert.Equal("memory map count is out of range", e);
            Assert.Equal(-1, MemoryMapNormalizer.Normalize(a, -1, a, new ulong[10], null, out _, out e));
            Assert.Equal(-1, MemoryMapNormalizer.Normalize(a, 4, new MemoryRegion[8], new ulong[7], null, out _, out e));
            Assert.Equal("memory map scratch array is too small", e);
        }

        // ---- properties ----

        static readonly uint[] Types = { 0, 1, 1, 1, 2, 3, 4, 5, 7 };

        // Entries on a coarse grid (so that they overlap a lot), now and then an absurd one.
        static Gen<MemoryRegion> SmallRegion =>
            Gen.Frequency(
                (20, from b in Gen.Choose(0, 64) from l in Gen.Choose(0, 24) from t in Gen.Elements(Types)
                     select R((ulong)b * 0x1000, (ulong)l * 0x1000, t)),
                (1, from t in Gen.Elements(Types) from k in Gen.Choose(0, 3)
                    select k == 0 ? R(ulong.MaxValue - 0x1000, 0x2000, t)
                         : k == 1 ? R(1ul << 52, 0x1000, t)
                         : k == 2 ? R(0x1000, ulong.MaxValue, t)
                         : R((1ul << 52) - 0x800, 0x1000, t)));

        static Gen<MemoryRegion> WideRegion =>
            from b in ArbMap.Default.GeneratorFor<ulong>() from l in ArbMap.Default.GeneratorFor<ulong>()
            from shiftB in Gen.Choose(0, 63) from shiftL in Gen.Choose(0, 63) from t in Gen.Elements(Types)
            select R(b >> shiftB, l >> shiftL, t);

        static int Rank(uint t) => t switch { 1 => 0, 3 => 1, 4 => 3, 5 => 4, _ => 2 };

        static bool Valid(MemoryRegion e)
            => e.Length != 0 && e.Length <= ulong.MaxValue - e.Base && e.Base + e.Length <= (1ul << 52);

        [Property(MaxTest = 500)]
        public Property MatchesAPerPageReferenceModel()
        {
            return Prop.ForAll(Arb.From(Gen.ArrayOf(SmallRegion)), input =>
            {
                var (regions, usable, _) = Run(input);
                // Reference: the type of each 4 KiB page is the strongest type covering it.
                var pageType = new Dictionary<ulong, uint>();
                foreach (var e in input.Where(Valid))
                    for (ulong a = e.Base; a < e.Base + e.Length; a += 0x1000)
                    {
                        uint t = MemoryMapNormalizer.Canonical(e.Type);
                        if (!pageType.TryGetValue(a, out uint old) || Rank(t) > Rank(old)) pageType[a] = t;
                    }
                var expected = new List<MemoryRegion>();
                foreach (var kv in pageType.OrderBy(kv => kv.Key))
                {
                    if (expected.Count > 0 && expected[^1].Type == kv.Value && expected[^1].Base + expected[^1].Length == kv.Key)
                        expected[^1] = R(expected[^1].Base, expected[^1].Length + 0x1000, kv.Value);
                    else expected.Add(R(kv.Key, 0x1000, kv.Value));
                }
                ulong expectedUsable = (ulong)pageType.Count(kv => kv.Value == Avail) * 0x1000;
                return regions.SequenceEqual(expected) && usable == expectedUsable;
            });
        }

        [Property(MaxTest = 500)]
        public Property OutputIsSortedDisjointBoundedAndNeverAddsUsableMemory()
        {
            return Prop.ForAll(Arb.From(Gen.ArrayOf(Gen.OneOf(SmallRegion, WideRegion))), input =>
            {
                var (regions, usable, _) = Run(input);
                ulong inputUsable = 0;
                bool inputSumOverflowed = false;
                foreach (var e in input.Where(e => Valid(e) && e.Type == Avail))
                {
                    if (inputUsable > ulong.MaxValue - e.Length) inputSumOverflowed = true;
                    inputUsable += e.Length;
                }
                ulong sum = 0;
                for (int i = 0; i < regions.Length; i++)
                {
                    var r = regions[i];
                    if (r.Length == 0 || !Valid(r)) return false;
                    if (i > 0 && regions[i - 1].Base + regions[i - 1].Length > r.Base) return false;   // sorted, no overlap
                    if (i > 0 && regions[i - 1].Base + regions[i - 1].Length == r.Base && regions[i - 1].Type == r.Type) return false;  // merged
                    if (r.Type != Avail && r.Type != Res && r.Type != Acpi && r.Type != Nvs && r.Type != Bad) return false;
                    // Every output byte is covered by a valid input entry: check both ends.
                    if (!input.Any(e => Valid(e) && e.Base <= r.Base && r.Base < e.Base + e.Length)) return false;
                    if (!input.Any(e => Valid(e) && e.Base < r.Base + r.Length && r.Base + r.Length <= e.Base + e.Length)) return false;
                    // A usable output range lies inside an available entry and no stronger entry touches it.
                    if (r.Type == Avail && input.Any(e => Valid(e) && e.Type != Avail && e.Base < r.Base + r.Length && r.Base < e.Base + e.Length)) return false;
                    if (r.Type == Avail) sum += r.Length;
                }
                return sum == usable && (inputSumOverflowed || usable <= inputUsable);
            });
        }
    }
}
