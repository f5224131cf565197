// The whole path the kernel takes at boot: RSDP (from the Multiboot2 information) →
// RSDT/XSDT → FADT → DSDT → \_S5_, and the MADT — on QEMU-like tables, then on
// randomly damaged ones. The tables sit at the end of guarded memory, so a read past
// the window kills the test host.
using System;
using Percy.Kernel.Acpi;
using Percy.Kernel.Multiboot;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class AcpiChainTests
    {
        // Returns a description of how far the chain got; never throws for bad tables.
        static string Walk(AcpiImage img, byte* rsdpPtr, uint rsdpLength, out byte slpA, out byte slpB, out MadtInfo madt)
        {
            slpA = slpB = 0;
            madt = null;
            if (!Rsdp.TryParse(rsdpPtr, rsdpLength, out RsdpInfo rsdp, out string error)) return "rsdp: " + error;
            var dir = new AcpiTableDirectory();
            if (!dir.Load(rsdp, img.Window, AcpiTableDirectory.DefaultMaxTableLength, out error)) return "root: " + error;
            for (int i = 0; i < dir.Count; i++)
            {
                Assert.True(img.Window.Contains(dir[i].Physical, dir[i].Length));
                Assert.True(dir[i].Length >= 36);
            }
            for (int i = 0; i < dir.Issues.Count; i++) Assert.False(string.IsNullOrEmpty(dir.Issues[i].Reason));
            if (dir.Find(AcpiSignature.Madt, 0, out AcpiTableEntry m))
            {
                madt = new MadtInfo();
                if (!Madt.TryParse(dir.Map(m), m.Length, madt, out error)) return "madt: " + error;
            }
            if (!dir.Find("FACP", out AcpiTableEntry f)) return "no fadt";
            if (!Fadt.TryParse(dir.Map(f), f.Length, out FadtInfo fadt, out error)) return "fadt: " + error;
            if (!dir.MapUnlisted(fadt.Dsdt, AcpiSignature.Dsdt, out byte* dsdt, out uint dsdtLength, out error)) return "dsdt: " + error;
            if (!AmlSleepState.TryFindInTable(dsdt, dsdtLength, 5, out slpA, out slpB, out error)) return "s5: " + error;
            return "ok";
        }

        [Fact]
        public void FromTheBootInformationToPowerOffAndCpus()
        {
            using var img = AcpiImage.Qemu(cpus: 4).Place();
            // The RSDP travels in the Multiboot2 information (tag 15).
            byte[] info = new Multiboot2Builder().AcpiNew(img.RsdpV2).End().Build();
            using var mem = new GuardedMemory(info.Length);
            var boot = new BootInformation();
            Assert.True(Multiboot2.Parse(mem.PlaceAtEnd(info), 0x10000, (ulong)info.Length, boot, out string error), error);
            Assert.Equal(2, boot.RsdpVersion);

            Assert.Equal("ok", Walk(img, boot.Rsdp, boot.RsdpLength, out byte a, out byte b, out MadtInfo madt));
            Assert.Equal(5, a);
            Assert.Equal(5, b);
            Assert.Equal(4, madt.EnabledCpuCount);
            Assert.Equal(0xFEE00000ul, madt.LocalApicAddress);
        }

        [Fact]
        public void RsdpV1ChainWorksToo()
        {
            using var img = AcpiImage.Qemu(cpus: 2, fadtLength: 116, fadtRevision: 1).Place();
            fixed (byte* r = img.RsdpV1)
                Assert.Equal("ok", Walk(img, r, 20, out _, out _, out MadtInfo madt));
        }

        [Theory]
        [InlineData("dsdt", "dsdt: table checksum is wrong")]
        [InlineData("fadt", "no fadt")]
        [InlineData("madt-entry", "ok")]
        public void DamageIsReportedWhereItIs(string what, string expected)
        {
            using var img = AcpiImage.Qemu();
            switch (what)
            {
                case "dsdt": img.Image[img.Offset(img.Dsdt) + 50] ^= 0xFF; break;
                case "fadt": img.Image[img.Offset(img.Fadt) + 100] ^= 0xFF; break;
                case "madt-entry":
                    // A MADT entry of length 0, checksum fixed: parsed with an issue.
                    int at = img.Offset(img.Madt) + 44 + 8 + 1;
                    img.Image[at] = 0;
                    int len = (int)ByteWriter.ReadU32(img.Image, img.Offset(img.Madt) + 4);
                    byte[] t = new byte[len];
                    Array.Copy(img.Image, img.Offset(img.Madt), t, 0, len);
                    AcpiBuilder.FixChecksum(t, 9, len);
                    img.Image[img.Offset(img.Madt) + 9] = t[9];
                    break;
            }
            img.Place();
            fixed (byte* r = img.RsdpV2)
            {
                Assert.Equal(expected, Walk(img, r, 36, out _, out _, out MadtInfo madt));
                if (what == "madt-entry")
                {
                    Assert.Equal(1, madt.CpuCount);
                    Assert.Equal(1, madt.Issues.Count);
                }
            }
        }

        [Fact]
        public void RandomDamageNeverReadsOutsideTheWindow()
        {
            var rng = new Random(42);
            using var pristine = AcpiImage.Qemu();
            int ok = 0, failed = 0;
            using var mem = new GuardedMemory(pristine.Image.Length);
            for (int iteration = 0; iteration < 3000; iteration++)
            {
                var img = AcpiImage.Qemu();
                int flips = rng.Next(1, 8);
                for (int k = 0; k < flips; k++)
                {
                    int at = rng.Next(img.Image.Length);
                    switch (rng.Next(3))
                    {
                        case 0: img.Image[at] = (byte)rng.Next(256); break;
                        case 1:
                            // Length fields of every table, then re-checksum so the damage gets past validation.
                            foreach (ulong t in new[] { img.Dsdt, img.Fadt, img.Madt, img.Rsdt, img.Xsdt })
                                if (rng.Next(5) == 0) ByteWriter.WriteU32(img.Image, img.Offset(t) + 4, (uint)rng.Next(0, 400));
                            break;
                        default:
                            // A MADT entry length or a pointer inside the root tables.
                            int e = img.Offset(img.Madt) + 44 + rng.Next(0, 60);
                            if (e < img.Image.Length) img.Image[e] = (byte)rng.Next(0, 20);
                            break;
                    }
                }
                if (rng.Next(2) == 0)
                    foreach (ulong t in new[] { img.Dsdt, img.Fadt, img.Madt, img.Rsdt, img.Xsdt })
                    {
                        int o = img.Offset(t);
                        int len = (int)Math.Min(ByteWriter.ReadU32(img.Image, o + 4), (uint)(img.Image.Length - o));
                        if (len >= 10)
                        {
                            byte[] tmp = new byte[len];
                            Array.Copy(img.Image, o, tmp, 0, len);
                            AcpiBuilder.FixChecksum(tmp, 9, len);
                            img.Image[o + 9] = tmp[9];
                        }
                    }
                byte* p = mem.PlaceAtEnd(img.Image);
                img.Pointer = p;
                img.Window = new PhysicalWindow(AcpiImage.PhysicalBase, AcpiImage.PhysicalBase + (ulong)img.Image.Length, (ulong)p - AcpiImage.PhysicalBase);
                string result;
                fixed (byte* r = img.RsdpV2) result = Walk(img, r, 36, out byte a, out byte b, out MadtInfo madt);
                if (result == "ok") ok++; else failed++;
            }
            Assert.True(ok > 100 && failed > 100, $"ok {ok}, failed {failed}");
        }
    }
}
