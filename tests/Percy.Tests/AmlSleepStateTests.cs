using System;
using System.Linq;
using Percy.Kernel.Acpi;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class AmlSleepStateTests
    {
        static byte[] Hex(string s) => s.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => Convert.ToByte(h, 16)).ToArray();

        // Runs the scan with the bytes at the end of a page, then at the start of one, so
        // reads past either end fault.
        static bool Find(byte[] aml, out byte a, out byte b, out string error, int state = 5)
        {
            using var mem = new GuardedMemory(Math.Max(1, aml.Length));
            bool ok = AmlSleepState.TryFind(mem.PlaceAtEnd(aml), (uint)aml.Length, state, out a, out b, out error);
            bool ok2 = AmlSleepState.TryFind(mem.PlaceAtStart(aml), (uint)aml.Length, state, out byte a2, out byte b2, out string error2);
            Assert.Equal(ok, ok2);
            Assert.Equal(a, a2);
            Assert.Equal(b, b2);
            Assert.Equal(error, error2);
            if (!ok) Assert.False(string.IsNullOrEmpty(error));
            return ok;
        }

        [Theory]
        // iasl: Name(_S5_, Package(){0x05, 0x05, 0, 0})
        [InlineData("08 5F 53 35 5F 12 08 04 0A 05 0A 05 00 00", 5, 5)]
        // QEMU/SeaBIOS: Name(\_S5, Package(0x04){Zero, Zero, Zero, Zero})
        [InlineData("08 5C 5F 53 35 5F 12 06 04 00 00 00 00", 0, 0)]
        // Typical laptop: Name(_S5, Package(0x04){0x07, Zero, Zero, Zero})
        [InlineData("08 5F 53 35 5F 12 07 04 0A 07 00 00 00", 7, 0)]
        // One and Ones-free mixed: Package(){One, 0x06}
        [InlineData("08 5F 53 35 5F 12 05 02 01 0A 06", 1, 6)]
        // WordConst and DWordConst elements
        [InlineData("08 5F 53 35 5F 12 0A 02 0B 05 00 0C 03 00 00 00", 5, 3)]
        // QWordConst elements
        [InlineData("08 5F 53 35 5F 12 14 02 0E 02 00 00 00 00 00 00 00 0E 04 00 00 00 00 00 00 00", 2, 4)]
        // Two-byte PkgLength (0x48 0x00 = 8) for the iasl package
        [InlineData("08 5F 53 35 5F 12 49 00 04 0A 05 0A 05 00 00", 5, 5)]
        // Three-byte PkgLength (length 10)
        [InlineData("08 5F 53 35 5F 12 8A 00 00 04 0A 05 0A 05 00 00", 5, 5)]
        // One integer holding both values (ACPICA: a in bits 7-0, b in bits 15-8)
        [InlineData("08 5F 53 35 5F 12 05 01 0B 05 07", 5, 7)]
        // Parent prefix: Name(^_S5_, ...)
        [InlineData("08 5E 5F 53 35 5F 12 06 04 01 01 00 00", 1, 1)]
        // Inside If(One){...}
        [InlineData("A0 10 01 08 5F 53 35 5F 12 08 04 0A 05 0A 05 00 00", 5, 5)]
        public void DecodesRealEncodings(string hex, int a, int b)
        {
            Assert.True(Find(Hex(hex), out byte sa, out byte sb, out string error), error);
            Assert.Equal(a, sa);
            Assert.Equal(b, sb);
        }

        [Fact]
        public void SkipsDecoysAndFindsTheRightState()
        {
            Assert.True(Find(AcpiImage.TypicalAml, out byte a, out byte b, out _));
            Assert.Equal(5, a);
            Assert.Equal(5, b);
            Assert.True(Find(AcpiImage.TypicalAml, out a, out b, out _, state: 3));
            Assert.Equal(1, a);
            Assert.Equal(1, b);
            Assert.False(Find(AcpiImage.TypicalAml, out _, out _, out string error, state: 4));
            Assert.Equal("no sleep-state package (\\_Sx_) in the AML", error);
        }

        [Fact]
        public void ScansAWholeDsdt()
        {
            byte[] dsdt = AcpiBuilder.Dsdt(AcpiImage.TypicalAml);
            using var mem = new GuardedMemory(dsdt.Length);
            Assert.True(AmlSleepState.TryFindInTable(mem.PlaceAtEnd(dsdt), (uint)dsdt.Length, 5, out byte a, out byte b, out string error), error);
            Assert.Equal(5, a);
            Assert.Equal(5, b);
            Assert.False(AmlSleepState.TryFindInTable(mem.PlaceAtEnd(dsdt, 20), 20, 5, out _, out _, out error));
            Assert.Equal("AML table is shorter than its header", error);
        }

        [Theory]
        [InlineData("08 5F 53 35 5F 12", "sleep-state package is cut off after PackageOp")]
        [InlineData("08 5F 53 35 5F 12 06 04 00 00", "sleep-state package runs past the end of the AML")]
        [InlineData("08 5F 53 35 5F 12 01 04", "sleep-state PkgLength is too small for its package")]
        [InlineData("08 5F 53 35 5F 12 02 00", "sleep-state package is empty")]
        [InlineData("08 5F 53 35 5F 12 59 00 04 0A 05", "sleep-state PkgLength has reserved bits set")]
        [InlineData("08 5F 53 35 5F 12 C8", "sleep-state PkgLength runs past the end of the AML")]
        [InlineData("08 5F 53 35 5F 12 04 02 0A 05", "sleep-state package ends before its elements")]
        [InlineData("08 5F 53 35 5F 12 03 02 0A 05", "sleep-state integer runs past the end of its package")]
        [InlineData("08 5F 53 35 5F 12 04 02 0B 05 00", "sleep-state integer runs past the end of its package")]
        [InlineData("08 5F 53 35 5F 12 05 02 0D 41 00", "sleep-state element is not an integer constant")]
        [InlineData("08 5F 53 35 5F 12 05 02 0A 08 00", "SLP_TYP value does not fit the 3-bit field")]
        [InlineData("08 5F 53 35 5F 12 04 02 FF 00", "SLP_TYP value does not fit the 3-bit field")]
        [InlineData("08 5F 53 35 5F 12 07 01 0C 05 07 01 00", "sleep-state value does not fit SLP_TYPa and SLP_TYPb")]
        [InlineData("08 5F 53 35 5F 0A 05", "no sleep-state package (\\_Sx_) in the AML")]
        [InlineData("14 06 5F 53 35 5F 12 04 02 00 00", "no sleep-state package (\\_Sx_) in the AML")]
        [InlineData("5F 53 35 5F 12 04 02 00 00", "no sleep-state package (\\_Sx_) in the AML")]
        [InlineData("08 5F 53 35", "no sleep-state package (\\_Sx_) in the AML")]
        [InlineData("", "no sleep-state package (\\_Sx_) in the AML")]
        public void RejectsBrokenPackages(string hex, string reason)
        {
            Assert.False(Find(Hex(hex), out _, out _, out string error));
            Assert.Equal(reason, error);
        }

        [Fact]
        public void ABrokenCandidateDoesNotHideALaterGoodOne()
        {
            byte[] aml = Hex("08 5F 53 35 5F 12 02 00  08 5F 53 35 5F 12 06 04 0A 05 00 00 00");
            Assert.True(Find(aml, out byte a, out _, out _));
            Assert.Equal(5, a);
        }

        [Fact]
        public void BadArguments()
        {
            Assert.False(AmlSleepState.TryFind(null, 10, 5, out _, out _, out string error));
            Assert.Equal("AML pointer is null", error);
            byte[] aml = Hex("08 5F 53 35 5F 12 06 04 00 00 00 00");
            fixed (byte* p = aml)
            {
                Assert.False(AmlSleepState.TryFind(p, (uint)aml.Length, 6, out _, out _, out error));
                Assert.Equal("sleep state is not 0 to 5", error);
                Assert.False(AmlSleepState.TryFind(p, (uint)aml.Length, -1, out _, out _, out error));
            }
        }

        [Fact]
        public void CutAtEveryByteFromEitherEnd()
        {
            byte[] aml = AcpiImage.TypicalAml;
            int s5Start = 38, s5End = s5Start + 14;
            Assert.Equal(0x08, aml[s5Start]);
            for (int n = 0; n <= aml.Length; n++)
            {
                byte[] head = aml.Take(n).ToArray();
                bool ok = Find(head, out byte a, out _, out _);
                Assert.Equal(n >= s5End, ok);
                if (ok) Assert.Equal(5, a);

                byte[] tail = aml.Skip(n).ToArray();
                ok = Find(tail, out _, out _, out _);
                Assert.Equal(n <= s5Start, ok);
            }
        }

        [Fact]
        public void RandomBytesNeverReadOutOfBounds()
        {
            var rng = new Random(5);
            int found = 0;
            for (int i = 0; i < 3000; i++)
            {
                // Random AML with planted _S5_ candidates so the decoder gets exercised.
                byte[] aml = new byte[rng.Next(0, 48)];
                rng.NextBytes(aml);
                for (int k = 0; k + 6 <= aml.Length; k += rng.Next(1, 12))
                {
                    if (rng.Next(3) != 0) continue;
                    aml[k] = 0x08; aml[k + 1] = 0x5F; aml[k + 2] = 0x53; aml[k + 3] = 0x35; aml[k + 4] = 0x5F; aml[k + 5] = 0x12;
                    // A plausible PkgLength, count and integer elements after it, sometimes wrong.
                    int at = k + 6;
                    byte[] tail = { (byte)rng.Next(0, 16), (byte)rng.Next(0, 5) };
                    byte[][] elements = { new byte[] { 0 }, new byte[] { 1 }, new byte[] { 0x0A, (byte)rng.Next(0, 10) },
                                          new byte[] { 0x0B, (byte)rng.Next(0, 10), 0 }, new byte[] { 0xFF }, new byte[] { 0x0D } };
                    var planted = tail.Concat(Enumerable.Range(0, 3).SelectMany(_ => elements[rng.Next(elements.Length)])).ToArray();
                    for (int j = 0; j < planted.Length && at + j < aml.Length; j++) aml[at + j] = planted[j];
                }
                if (Find(aml, out byte a, out byte b, out _))
                {
                    found++;
                    Assert.InRange(a, 0, 7);
                    Assert.InRange(b, 0, 7);
                }
            }
            Assert.True(found > 10, $"found {found}");
        }
    }
}
