using System;
using Percy.Kernel.Acpi;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class FadtTests
    {
        static bool Parse(byte[] table, out FadtInfo info, out string error, int length = -1)
        {
            using var mem = new GuardedMemory(table.Length);
            if (length < 0) length = table.Length;
            return Fadt.TryParse(mem.PlaceAtEnd(table, length), (uint)length, out info, out error);
        }

        static FadtInfo Ok(byte[] table)
        {
            Assert.True(Parse(table, out FadtInfo info, out string error), error);
            Assert.Null(error);
            return info;
        }

        [Fact]
        public void QemuQ35Revision3()
        {
            var f = new AcpiBuilder.FadtFields { Dsdt = 0x7FE0040, XDsdt = 0x7FE0040 };
            var info = Ok(AcpiBuilder.Fadt(f, 244, 3));
            Assert.Equal(3, info.Revision);
            Assert.Equal(244u, info.Length);
            Assert.Equal(0x7FE0040ul, info.Dsdt);
            Assert.Equal(9, info.SciInterrupt);
            Assert.Equal(0xB2u, info.SmiCommand);
            Assert.Equal(0x02, info.AcpiEnable);
            Assert.Equal(0x03, info.AcpiDisable);
            Assert.Equal(GenericAddress.SystemIo, info.Pm1aControl.AddressSpace);
            Assert.Equal(0x604ul, info.Pm1aControl.Address);
            Assert.Equal(16, info.Pm1aControl.BitWidth);
            Assert.False(info.Pm1bControl.Present);
            Assert.Equal(0x600ul, info.Pm1aEvent.Address);
            Assert.Equal(32, info.Pm1aEvent.BitWidth);
            Assert.Equal(4, info.Pm1EventLength);
            Assert.Equal(2, info.Pm1ControlLength);
            Assert.True(info.ResetSupported);
            Assert.True(info.ResetRegister.IsSystemIo);
            Assert.Equal(0xCF9ul, info.ResetRegister.Address);
            Assert.Equal(8, info.ResetRegister.BitWidth);
            Assert.Equal(0x0F, info.ResetValue);
            Assert.False(info.HardwareReduced);
        }

        [Fact]
        public void QemuPcAcpi1Layout()
        {
            // ACPI 1.0: 116 bytes, no reset register, no X_ fields, even if the flag says so.
            var f = new AcpiBuilder.FadtFields { Dsdt = 0xE0040, XDsdt = 0xBAD, SmiCommand = 0xB2, AcpiEnable = 0xF1, AcpiDisable = 0xF0,
                                                 Pm1aEvent = 0xB000, Pm1aControl = 0xB004, PmTimer = 0xB008 };
            var info = Ok(AcpiBuilder.Fadt(f, 116, 1));
            Assert.Equal(0xE0040ul, info.Dsdt);
            Assert.Equal(0xF1, info.AcpiEnable);
            Assert.Equal(0xB004ul, info.Pm1aControl.Address);
            Assert.Equal(GenericAddress.SystemIo, info.Pm1aControl.AddressSpace);
            Assert.Equal(16, info.Pm1aControl.BitWidth);
            Assert.Equal(0xB000ul, info.Pm1aEvent.Address);
            Assert.False(info.ResetSupported);
        }

        [Fact]
        public void ResetRegisterNeedsTheFlagTheLengthAndAnAddress()
        {
            var noFlag = new AcpiBuilder.FadtFields { Flags = 0x4A5 & ~(1u << 10) };
            Assert.False(Ok(AcpiBuilder.Fadt(noFlag, 244)).ResetSupported);
            var noAddress = new AcpiBuilder.FadtFields { ResetRegister = new byte[12] };
            Assert.False(Ok(AcpiBuilder.Fadt(noAddress, 244)).ResetSupported);
            Assert.True(Ok(AcpiBuilder.Fadt(new AcpiBuilder.FadtFields(), 129)).ResetSupported);
            Assert.False(Ok(AcpiBuilder.Fadt(new AcpiBuilder.FadtFields(), 128)).ResetSupported);
        }

        [Fact]
        public void ExtendedFieldsWinWhenPresent()
        {
            var f = new AcpiBuilder.FadtFields { Dsdt = 0x1000, XDsdt = 0x1_0000_2000 };
            byte[] t = AcpiBuilder.Fadt(f, 276, 6);
            // X_PM1a_CNT_BLK in system memory at a 64-bit address.
            t[172] = GenericAddress.SystemMemory;
            t[173] = 16;
            ByteWriter.WriteU32(t, 176, 0x3000);
            ByteWriter.WriteU32(t, 180, 0x1);
            AcpiBuilder.FixChecksum(t, 9, t.Length);
            var info = Ok(t);
            Assert.Equal(0x1_0000_2000ul, info.Dsdt);
            Assert.Equal(GenericAddress.SystemMemory, info.Pm1aControl.AddressSpace);
            Assert.Equal(0x1_0000_3000ul, info.Pm1aControl.Address);

            // X_ fields of zero leave the legacy ones.
            f = new AcpiBuilder.FadtFields { Dsdt = 0x1000, XDsdt = 0, WriteExtendedBlocks = false };
            info = Ok(AcpiBuilder.Fadt(f, 276, 6));
            Assert.Equal(0x1000ul, info.Dsdt);
            Assert.Equal(0x604ul, info.Pm1aControl.Address);

            // A table cut inside X_PM1a_CNT_BLK keeps the legacy PM1a control block.
            t = AcpiBuilder.Fadt(new AcpiBuilder.FadtFields { Pm1aControl = 0x604 }, 180, 3);
            t[172] = 1; t[173] = 16; ByteWriter.WriteU32(t, 176, 0x999);
            AcpiBuilder.FixChecksum(t, 9, t.Length);
            Assert.Equal(0x604ul, Ok(t).Pm1aControl.Address);
        }

        [Fact]
        public void HardwareReducedNeedsNoPm1Blocks()
        {
            var f = new AcpiBuilder.FadtFields { Flags = FadtFlags.HardwareReduced, Pm1aControl = 0, Pm1aEvent = 0, SmiCommand = 0 };
            var info = Ok(AcpiBuilder.Fadt(f, 276, 6));
            Assert.True(info.HardwareReduced);
            Assert.False(info.Pm1aControl.Present);

            f.Flags = 0;
            Assert.False(Parse(AcpiBuilder.Fadt(f, 276, 6), out _, out string error));
            Assert.Equal("FADT has no PM1a control block", error);
        }

        [Fact]
        public void ShortOrWrongTablesAreRejected()
        {
            Assert.False(Parse(AcpiBuilder.Fadt(new AcpiBuilder.FadtFields(), 112, 1), out _, out string error));
            Assert.Equal("FADT is shorter than the 116 bytes of ACPI 1.0", error);

            byte[] t = AcpiBuilder.Fadt(new AcpiBuilder.FadtFields(), 244, 3);
            // The caller passes more bytes than the header declares: the header wins.
            ByteWriter.WriteU32(t, 4, 100);
            Assert.False(Parse(t, out _, out error));
            Assert.Equal("FADT is shorter than the 116 bytes of ACPI 1.0", error);

            Assert.False(Parse(AcpiBuilder.Table("APIC", 1, new byte[100]), out _, out error));
            Assert.Equal("table is not a FADT", error);
            Assert.False(Fadt.TryParse(null, 244, out _, out error));
            Assert.Equal("FADT pointer is null", error);
        }

        [Fact]
        public void CutAtEveryLengthNeverReadsPastIt()
        {
            byte[] t = AcpiBuilder.Fadt(new AcpiBuilder.FadtFields(), 276, 6);
            using var mem = new GuardedMemory(t.Length);
            for (int n = 0; n <= t.Length; n++)
            {
                bool ok = Fadt.TryParse(mem.PlaceAtEnd(t, n), (uint)n, out FadtInfo info, out string error);
                Assert.Equal(n >= 116, ok);
                if (!ok) Assert.False(string.IsNullOrEmpty(error));
                else Assert.Equal(n >= 129, info.ResetSupported);
            }
        }
    }
}
