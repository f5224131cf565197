using System;
using System.Linq;
using Percy.Kernel.Acpi;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class MadtTests
    {
        static byte[] Table(params byte[][] entries)
        {
            var w = new ByteWriter().U32(0xFEE00000).U32(1);
            foreach (var e in entries) w.Bytes(e);
            return AcpiBuilder.Table("APIC", 1, w.ToArray());
        }

        static byte[] LocalApic(int uid, int id, uint flags) => new ByteWriter().U8(0).U8(8).U8(uid).U8(id).U32(flags).ToArray();
        static byte[] X2Apic(uint id, uint uid, uint flags) => new ByteWriter().U8(9).U8(16).U16(0).U32(id).U32(flags).U32(uid).ToArray();

        static MadtInfo Parse(byte[] table, int length = -1)
        {
            using var mem = new GuardedMemory(table.Length);
            if (length < 0) length = table.Length;
            var r = new MadtInfo();
            Assert.True(Madt.TryParse(mem.PlaceAtEnd(table, length), (uint)length, r, out string error), error);
            return r;
        }

        static void AssertIssue(MadtInfo r, uint code, string reason)
        {
            Assert.Contains(Enumerable.Range(0, r.Issues.Count).Select(i => r.Issues[i]), i => i.Code == code && i.Reason == reason);
        }

        [Fact]
        public void QemuFourCpus()
        {
            var r = Parse(AcpiBuilder.MadtQemu(4));
            Assert.Equal(0xFEE00000ul, r.LocalApicAddress);
            Assert.True(r.PcAtCompatible);
            Assert.Equal(4, r.CpuCount);
            Assert.Equal(4, r.EnabledCpuCount);
            for (int i = 0; i < 4; i++)
            {
                Assert.Equal((uint)i, r.Cpus[i].ApicId);
                Assert.Equal((uint)i, r.Cpus[i].AcpiUid);
                Assert.True(r.Cpus[i].Enabled);
                Assert.False(r.Cpus[i].OnlineCapable);
                Assert.False(r.Cpus[i].IsX2Apic);
            }
            Assert.Equal(1, r.IoApicCount);
            Assert.Equal(0xFEC00000u, r.IoApics[0].Address);
            Assert.Equal(0u, r.IoApics[0].GsiBase);
            Assert.Equal(5, r.OverrideCount);
            Assert.Equal(0, r.Overrides[0].Source);
            Assert.Equal(2u, r.Overrides[0].Gsi);
            Assert.Equal(9, r.Overrides[2].Source);
            Assert.Equal(0x0D, r.Overrides[2].Flags);
            Assert.Equal(0, r.Issues.Count);
        }

        [Fact]
        public void X2ApicDisabledAndOnlineCapableCpus()
        {
            var r = Parse(Table(LocalApic(0, 0, 1), LocalApic(1, 1, 0), LocalApic(2, 2, 2), X2Apic(0x100, 3, 1), X2Apic(0x101, 4, 3)));
            Assert.Equal(5, r.CpuCount);
            Assert.Equal(3, r.EnabledCpuCount);
            Assert.False(r.Cpus[1].Usable);
            Assert.True(r.Cpus[2].OnlineCapable);
            Assert.False(r.Cpus[2].Enabled);
            Assert.True(r.Cpus[3].IsX2Apic);
            Assert.Equal(0x100u, r.Cpus[3].ApicId);
            Assert.Equal(3u, r.Cpus[3].AcpiUid);
            // Enabled wins: online-capable is only meaningful for a disabled CPU.
            Assert.True(r.Cpus[4].Enabled);
            Assert.False(r.Cpus[4].OnlineCapable);
        }

        [Fact]
        public void DuplicateApicIds()
        {
            // Absent CPUs with a placeholder id are ignored quietly; a real clash is reported.
            var r = Parse(Table(LocalApic(0, 0, 1), LocalApic(1, 0xFF, 0), LocalApic(2, 0xFF, 0), LocalApic(3, 0, 1), LocalApic(4, 0xFF, 1)));
            Assert.Equal(2, r.CpuCount);
            Assert.Equal(0xFFu, r.Cpus[1].ApicId);
            Assert.True(r.Cpus[1].Enabled);          // the usable entry replaced the placeholder
            Assert.Equal(4u, r.Cpus[1].AcpiUid);
            Assert.Equal(1, r.Issues.Count);
            AssertIssue(r, 0, "duplicate APIC id; the later entry is ignored");
        }

        [Fact]
        public void LocalApicAddressOverride()
        {
            byte[] ov = new ByteWriter().U8(5).U8(12).U16(0).U64(0x1_FEE0_0000).ToArray();
            var r = Parse(Table(LocalApic(0, 0, 1), ov));
            Assert.Equal(0x1_FEE0_0000ul, r.LocalApicAddress);
        }

        [Fact]
        public void ShortEntriesAreSkippedAndUnreadableOnesEndTheWalk()
        {
            var r = Parse(Table(
                new byte[] { 0, 6, 0, 0, 1, 0 },                             // local APIC, 6 bytes
                new byte[] { 1, 10, 0, 0, 0, 0, 0xC0, 0xFE, 0, 0 },          // I/O APIC, 10 bytes
                new byte[] { 2, 8, 0, 0, 2, 0, 0, 0 },                       // override, 8 bytes
                new byte[] { 9, 12, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0 },          // x2APIC, 12 bytes
                new byte[] { 5, 8, 0, 0, 0, 0, 0, 0 },                       // address override, 8 bytes
                new byte[] { 0x7F, 4, 0, 0 },                                // unknown type: ignored
                LocalApic(1, 1, 1),
                new byte[] { 0, 1 },                                         // length 1: the walk stops
                LocalApic(2, 2, 1)));
            Assert.Equal(1, r.CpuCount);
            Assert.Equal(1u, r.Cpus[0].ApicId);
            Assert.Equal(0, r.IoApicCount);
            Assert.Equal(0, r.OverrideCount);
            Assert.Equal(0xFEE00000ul, r.LocalApicAddress);
            AssertIssue(r, 0, "local APIC entry is shorter than 8 bytes");
            AssertIssue(r, 1, "I/O APIC entry is shorter than 12 bytes");
            AssertIssue(r, 2, "interrupt source override entry is shorter than 10 bytes");
            AssertIssue(r, 9, "local x2APIC entry is shorter than 16 bytes");
            AssertIssue(r, 5, "local APIC address override entry is shorter than 12 bytes");
            AssertIssue(r, 0, "MADT entry length is smaller than 2; the entries after it are unreadable");
            Assert.Equal(6, r.Issues.Count);

            r = Parse(Table(LocalApic(0, 0, 1), new byte[] { 0, 0 }, LocalApic(1, 1, 1)));
            Assert.Equal(1, r.CpuCount);
            AssertIssue(r, 0, "MADT entry length is smaller than 2; the entries after it are unreadable");

            r = Parse(Table(LocalApic(0, 0, 1), new byte[] { 1, 200, 0, 0 }));
            AssertIssue(r, 1, "MADT entry runs past the end of the table");

            r = Parse(Table(LocalApic(0, 0, 1), new byte[] { 0 }));
            AssertIssue(r, AcpiSignature.Madt, "MADT ends with a partial entry header");
        }

        [Fact]
        public void CapacitiesAreEnforcedWithOneIssueEach()
        {
            var cpus = Enumerable.Range(0, 300).Select(i => X2Apic((uint)i, (uint)i, 1)).ToArray();
            byte[] bigTable = Table(cpus);
            var r = Parse(bigTable);
            Assert.Equal(MadtInfo.MaxCpus, r.CpuCount);
            Assert.True(r.CpusTruncated);
            Assert.Equal(1, r.Issues.Count);
            AssertIssue(r, 9, "more than 256 CPU entries; the rest are ignored");

            var ioapics = Enumerable.Range(0, 18).Select(i => new ByteWriter().U8(1).U8(12).U8(i).U8(0).U32(0xFEC00000).U32((uint)i * 24).ToArray()).ToArray();
            r = Parse(Table(ioapics));
            Assert.Equal(MadtInfo.MaxIoApics, r.IoApicCount);
            AssertIssue(r, 1, "more than 16 I/O APICs; the rest are ignored");
        }

        [Fact]
        public void WrongOrShortTablesAreRejected()
        {
            var r = new MadtInfo();
            byte[] t = AcpiBuilder.Table("FACP", 1, new byte[8]);
            using var mem = new GuardedMemory(t.Length);
            Assert.False(Madt.TryParse(mem.PlaceAtEnd(t), (uint)t.Length, r, out string error));
            Assert.Equal("table is not a MADT", error);
            t = AcpiBuilder.Table("APIC", 1, new byte[4]);
            Assert.False(Madt.TryParse(mem.PlaceAtEnd(t), (uint)t.Length, r, out error));
            Assert.Equal("MADT is shorter than its 44-byte fixed part", error);
            Assert.False(Madt.TryParse(null, 100, r, out error));
            Assert.Equal("MADT pointer is null", error);
            Assert.False(Madt.TryParse(mem.PlaceAtEnd(t), (uint)t.Length, null, out error));
            Assert.Equal("no result object", error);
        }

        [Fact]
        public void CutAtEveryByte()
        {
            byte[] t = AcpiBuilder.MadtQemu(4);
            using var mem = new GuardedMemory(t.Length);
            var r = new MadtInfo();
            for (int n = 0; n <= t.Length; n++)
            {
                bool ok = Madt.TryParse(mem.PlaceAtEnd(t, n), (uint)n, r, out string error);
                Assert.Equal(n >= 44, ok);
                if (!ok) { Assert.False(string.IsNullOrEmpty(error)); continue; }
                // Whole local APIC entries before the cut are all read.
                Assert.Equal(Math.Min(4, (n - 44) / 8), r.CpuCount);
                // A cut on an entry boundary leaves nothing partial to report.
                int[] boundaries = { 44, 52, 60, 68, 76, 88, 98, 108, 118, 128, 138, 144 };
                Assert.Equal(t.Length, boundaries[^1]);
                Assert.Equal(boundaries.Contains(n), r.Issues.Count == 0);
            }
        }
    }
}
