using System;
using Percy.Kernel.Acpi;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class AcpiTablesTests
    {
        static RsdpInfo ParseRsdp(byte[] rsdp, int available = -1)
        {
            using var mem = new GuardedMemory(rsdp.Length);
            if (available < 0) available = rsdp.Length;
            Assert.True(Rsdp.TryParse(mem.PlaceAtEnd(rsdp, available), (ulong)available, out RsdpInfo info, out string error), error);
            return info;
        }

        static string RsdpError(byte[] rsdp, int available = -1)
        {
            using var mem = new GuardedMemory(Math.Max(1, rsdp.Length));
            if (available < 0) available = rsdp.Length;
            Assert.False(Rsdp.TryParse(mem.PlaceAtEnd(rsdp, available), (ulong)available, out _, out string error));
            Assert.False(string.IsNullOrEmpty(error));
            return error;
        }

        [Fact]
        public void SignatureConstantsMatchTheirText()
        {
            Assert.Equal(AcpiSignature.Rsdt, AcpiBytes.Signature("RSDT"));
            Assert.Equal(AcpiSignature.Xsdt, AcpiBytes.Signature("XSDT"));
            Assert.Equal(AcpiSignature.Fadt, AcpiBytes.Signature("FACP"));
            Assert.Equal(AcpiSignature.Dsdt, AcpiBytes.Signature("DSDT"));
            Assert.Equal(AcpiSignature.Ssdt, AcpiBytes.Signature("SSDT"));
            Assert.Equal(AcpiSignature.Madt, AcpiBytes.Signature("APIC"));
            Assert.Equal(AcpiSignature.Hpet, AcpiBytes.Signature("HPET"));
            Assert.Equal(AcpiSignature.Mcfg, AcpiBytes.Signature("MCFG"));
            Assert.Equal(0u, AcpiBytes.Signature("API"));
            Assert.Equal(0u, AcpiBytes.Signature(null));
            Assert.Equal(0u, AcpiBytes.Signature("AP\u0100C"));
        }

        // ---- RSDP ----

        [Fact]
        public void RsdpVersion1()
        {
            var info = ParseRsdp(AcpiBuilder.RsdpV1(0x7FE1234));
            Assert.Equal(0, info.Revision);
            Assert.Equal(0x7FE1234u, info.RsdtAddress);
            Assert.False(info.HasXsdt);
            Assert.Equal(20u, info.Length);
        }

        [Fact]
        public void RsdpVersion2()
        {
            var info = ParseRsdp(AcpiBuilder.RsdpV2(0x7FE1234, 0x1_0000_5678));
            Assert.Equal(2, info.Revision);
            Assert.True(info.HasXsdt);
            Assert.Equal(0x1_0000_5678ul, info.XsdtAddress);
            Assert.Equal(36u, info.Length);
        }

        [Fact]
        public void RsdpVersion2WithOnlyTwentyBytesIsReadAsVersion1()
        {
            var info = ParseRsdp(AcpiBuilder.RsdpV2(0x1000, 0x2000), 20);
            Assert.Equal(2, info.Revision);
            Assert.False(info.HasXsdt);
            Assert.Equal(0x1000u, info.RsdtAddress);
        }

        [Fact]
        public void BrokenRsdpsAreRejected()
        {
            byte[] r = AcpiBuilder.RsdpV1(0x1000);
            r[0] = (byte)'X';
            AcpiBuilder.FixChecksum(r, 8, 20);
            Assert.Equal("RSDP signature is not \"RSD PTR \"", RsdpError(r));

            r = AcpiBuilder.RsdpV1(0x1000);
            r[16] ^= 1;
            Assert.Equal("RSDP checksum of the first 20 bytes is wrong", RsdpError(r));

            r = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            r[24] ^= 1;
            Assert.Equal("RSDP extended checksum is wrong", RsdpError(r));

            r = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            ByteWriter.WriteU32(r, 20, 20);
            AcpiBuilder.FixChecksum(r, 32, 36);
            Assert.Equal("RSDP length is smaller than 36", RsdpError(r));

            r = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            ByteWriter.WriteU32(r, 20, 40);
            AcpiBuilder.FixChecksum(r, 32, 36);
            Assert.Equal("RSDP length runs past the bytes available", RsdpError(r));

            r = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            ByteWriter.WriteU32(r, 20, 0xFFFFFFFF);
            Assert.Equal("RSDP length is absurd", RsdpError(r));

            Assert.False(Rsdp.TryParse(null, 36, out _, out string e));
            Assert.Equal("RSDP pointer is null", e);
        }

        [Fact]
        public void RsdpCutAtEveryByte()
        {
            byte[] r = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            using var mem = new GuardedMemory(r.Length);
            for (int n = 0; n <= r.Length; n++)
            {
                bool ok = Rsdp.TryParse(mem.PlaceAtEnd(r, n), (ulong)n, out RsdpInfo info, out string error);
                Assert.Equal(n >= 20, ok);
                if (!ok) Assert.Equal("RSDP is shorter than 20 bytes", error);
                else Assert.Equal(n == 36, info.HasXsdt);
            }
        }

        // ---- table header ----

        [Fact]
        public void HeaderValidation()
        {
            byte[] t = AcpiBuilder.Table("HPET", 1, new byte[20]);
            using var mem = new GuardedMemory(t.Length);
            byte* p = mem.PlaceAtEnd(t);
            Assert.True(AcpiTable.Validate(p, (ulong)t.Length, AcpiSignature.Hpet, 4096, out uint length, out string error), error);
            Assert.Equal(56u, length);
            Assert.True(AcpiTable.Validate(p, (ulong)t.Length, 0, 4096, out _, out _));
            Assert.False(AcpiTable.Validate(p, (ulong)t.Length, AcpiSignature.Madt, 4096, out _, out error));
            Assert.Equal("table signature is not the one expected", error);
            Assert.False(AcpiTable.Validate(p, (ulong)t.Length, 0, 55, out _, out error));
            Assert.Equal("table length is larger than the allowed maximum", error);
            for (int n = 0; n < t.Length; n++)
            {
                Assert.False(AcpiTable.Validate(mem.PlaceAtEnd(t, n), (ulong)n, 0, 4096, out _, out error));
                Assert.Equal(n < 36 ? "table is shorter than the 36-byte header" : "table runs past the readable memory", error);
            }
            t[40] ^= 0x55;
            Assert.False(AcpiTable.Validate(mem.PlaceAtEnd(t), (ulong)t.Length, 0, 4096, out _, out error));
            Assert.Equal("table checksum is wrong", error);
            ByteWriter.WriteU32(t, 4, 35);
            Assert.False(AcpiTable.Validate(mem.PlaceAtEnd(t), (ulong)t.Length, 0, 4096, out _, out error));
            Assert.Equal("table length is smaller than the 36-byte header", error);
        }

        [Fact]
        public void WindowContainsIsOverflowSafe()
        {
            var w = new PhysicalWindow(0x1000, 0x2000, 0);
            Assert.True(w.Contains(0x1000, 0x1000));
            Assert.True(w.Contains(0x1FFF, 1));
            Assert.True(w.Contains(0x2000, 0));
            Assert.False(w.Contains(0x1FFF, 2));
            Assert.False(w.Contains(0xFFF, 1));
            Assert.False(w.Contains(0x1800, ulong.MaxValue));
            Assert.False(w.Contains(ulong.MaxValue, 2));
            var inverted = new PhysicalWindow(0x2000, 0x1000, 0);
            Assert.False(inverted.Contains(0x2000, 1));
        }

        // ---- RSDT / XSDT ----

        [Fact]
        public void QemuTablesThroughTheXsdt()
        {
            using var img = AcpiImage.Qemu().Place();
            var dir = new AcpiTableDirectory();
            Assert.True(dir.Load(ParseRsdp(img.RsdpV2), img.Window, AcpiTableDirectory.DefaultMaxTableLength, out string error), error);
            Assert.True(dir.UsesXsdt);
            Assert.Equal(img.Xsdt, dir.RootPhysical);
            Assert.Equal(3, dir.Count);
            Assert.Equal(0, dir.Issues.Count);
            Assert.True(dir.Find("FACP", out AcpiTableEntry fadt));
            Assert.Equal(img.Fadt, fadt.Physical);
            Assert.Equal(244u, fadt.Length);
            Assert.True(dir.Find(AcpiSignature.Madt, 0, out AcpiTableEntry madt));
            Assert.Equal(img.Madt, madt.Physical);
            Assert.True(dir.Map(madt) == img.Pointer + img.Offset(img.Madt));
            Assert.False(dir.Find(AcpiSignature.Madt, 1, out _));
            Assert.False(dir.Find("SSDT", out _));
            Assert.False(dir.Find("TOOLONG", out _));
        }

        [Fact]
        public void QemuTablesThroughTheRsdt()
        {
            using var img = AcpiImage.Qemu().Place();
            var dir = new AcpiTableDirectory();
            Assert.True(dir.Load(ParseRsdp(img.RsdpV1), img.Window, AcpiTableDirectory.DefaultMaxTableLength, out string error), error);
            Assert.False(dir.UsesXsdt);
            Assert.Equal(img.Rsdt, dir.RootPhysical);
            Assert.Equal(3, dir.Count);
            Assert.Equal(AcpiSignature.Fadt, dir[0].Signature);
            Assert.Equal(AcpiSignature.Madt, dir[1].Signature);
            Assert.Equal(AcpiSignature.Hpet, dir[2].Signature);
        }

        [Fact]
        public void BadXsdtFallsBackToTheRsdt()
        {
            using var img = AcpiImage.Qemu();
            img.Image[img.Offset(img.Xsdt) + 40] ^= 1;
            img.Place();
            var dir = new AcpiTableDirectory();
            Assert.True(dir.Load(ParseRsdp(img.RsdpV2), img.Window, AcpiTableDirectory.DefaultMaxTableLength, out string error), error);
            Assert.False(dir.UsesXsdt);
            Assert.Equal(3, dir.Count);
            Assert.Equal(1, dir.Issues.Count);
            Assert.Equal(AcpiSignature.Xsdt, dir.Issues[0].Code);
            Assert.Equal(img.Xsdt, dir.Issues[0].Address);
            Assert.Equal("table checksum is wrong", dir.Issues[0].Reason);
        }

        [Fact]
        public void NoUsableRootFailsTheLoad()
        {
            using var img = AcpiImage.Qemu().Place();
            var dir = new AcpiTableDirectory();
            var rsdp = ParseRsdp(img.RsdpV1);
            rsdp.RsdtAddress = 0;
            Assert.False(dir.Load(rsdp, img.Window, 1 << 20, out string error));
            Assert.Equal("RSDP names no RSDT", error);

            rsdp = ParseRsdp(img.RsdpV2);
            rsdp.RsdtAddress = 0;
            rsdp.XsdtAddress = img.Dsdt;          // not an XSDT
            Assert.False(dir.Load(rsdp, img.Window, 1 << 20, out error));
            Assert.Equal("XSDT is invalid and there is no RSDT", error);

            rsdp = ParseRsdp(img.RsdpV1);
            rsdp.RsdtAddress = 0x1000;            // outside the window
            Assert.False(dir.Load(rsdp, img.Window, 1 << 20, out error));
            Assert.Equal("table header lies outside the readable physical memory", error);
        }

        [Fact]
        public void BadListedTablesAreReportedAndSkipped()
        {
            var mem = new FakePhysicalMemory(AcpiImage.PhysicalBase);
            byte[] good = AcpiBuilder.Table("HPET", 1, new byte[20]);
            byte[] badSum = AcpiBuilder.Table("SSDT", 2, new byte[16]);
            badSum[40] ^= 1;
            byte[] huge = AcpiBuilder.Table("MCFG", 1, new byte[16]);
            ByteWriter.WriteU32(huge, 4, 0x10000);       // longer than the window
            ulong goodAt = mem.Place(good), badAt = mem.Place(badSum), hugeAt = mem.Place(huge);
            ulong rsdtAt = mem.NextAddress;
            ulong end = rsdtAt + 36 + 5 * 4;
            mem.Place(AcpiBuilder.Rsdt((uint)goodAt, 0, (uint)badAt, 0xFFFFFFF0, (uint)hugeAt));
            byte[] image = mem.Image;
            using var g = new GuardedMemory(image.Length);
            byte* p = g.PlaceAtEnd(image);
            var window = new PhysicalWindow(AcpiImage.PhysicalBase, AcpiImage.PhysicalBase + (ulong)image.Length, (ulong)p - AcpiImage.PhysicalBase);
            var dir = new AcpiTableDirectory();
            var rsdp = new RsdpInfo { RsdtAddress = (uint)rsdtAt };
            Assert.True(dir.Load(rsdp, window, 1 << 20, out string error), error);
            Assert.Equal(1, dir.Count);
            Assert.Equal(goodAt, dir[0].Physical);
            Assert.Equal(4, dir.Issues.Count);
            Assert.Equal("table address is 0", dir.Issues[0].Reason);
            Assert.Equal(AcpiSignature.Rsdt, dir.Issues[0].Code);
            Assert.Equal("table checksum is wrong", dir.Issues[1].Reason);
            Assert.Equal(AcpiSignature.Ssdt, dir.Issues[1].Code);
            Assert.Equal(badAt, dir.Issues[1].Address);
            Assert.Equal("table header lies outside the readable physical memory", dir.Issues[2].Reason);
            Assert.Equal("table runs past the readable memory", dir.Issues[3].Reason);
            Assert.Equal(AcpiSignature.Mcfg, dir.Issues[3].Code);
        }

        [Fact]
        public void PartialRootEntriesAndTooManyTablesAreReported()
        {
            var mem = new FakePhysicalMemory(AcpiImage.PhysicalBase);
            ulong hpet = mem.Place(AcpiBuilder.Table("HPET", 1, new byte[20]));
            var entries = new ulong[70];
            for (int i = 0; i < entries.Length; i++) entries[i] = hpet;
            byte[] xsdt = AcpiBuilder.Xsdt(entries);
            // Append 4 bytes of a partial entry, fixing the length and checksum.
            byte[] longer = new byte[xsdt.Length + 4];
            Array.Copy(xsdt, longer, xsdt.Length);
            ByteWriter.WriteU32(longer, 4, (uint)longer.Length);
            AcpiBuilder.FixChecksum(longer, 9, longer.Length);
            ulong xsdtAt = mem.Place(longer);
            byte[] image = mem.Image;
            using var g = new GuardedMemory(image.Length);
            byte* p = g.PlaceAtEnd(image);
            var window = new PhysicalWindow(AcpiImage.PhysicalBase, AcpiImage.PhysicalBase + (ulong)image.Length, (ulong)p - AcpiImage.PhysicalBase);
            var dir = new AcpiTableDirectory();
            Assert.True(dir.Load(new RsdpInfo { Revision = 2, HasXsdt = true, XsdtAddress = xsdtAt }, window, 1 << 20, out string error), error);
            Assert.Equal(AcpiTableDirectory.Capacity, dir.Count);
            Assert.Equal("root table ends with a partial entry; it is ignored", dir.Issues[0].Reason);
            Assert.Equal("root table lists more than 64 tables; the rest are ignored", dir.Issues[1].Reason);
            Assert.Equal(2, dir.Issues.Count);
            Assert.True(dir.Find(AcpiSignature.Hpet, 63, out _));
        }

        [Fact]
        public void UnlistedDsdtIsMappedAndChecked()
        {
            using var img = AcpiImage.Qemu().Place();
            var dir = new AcpiTableDirectory();
            Assert.True(dir.Load(ParseRsdp(img.RsdpV2), img.Window, 1 << 20, out string error), error);
            Assert.True(dir.MapUnlisted(img.Dsdt, AcpiSignature.Dsdt, out byte* dsdt, out uint length, out error), error);
            Assert.True(dsdt == img.Pointer + img.Offset(img.Dsdt));
            Assert.Equal((uint)(36 + AcpiImage.TypicalAml.Length), length);
            Assert.False(dir.MapUnlisted(img.Madt, AcpiSignature.Dsdt, out _, out _, out error));
            Assert.Equal("table signature is not the one expected", error);
        }
    }
}
