// Builds ACPI tables with correct checksums, laid out in a fake physical memory image,
// modelled on what QEMU 7.2 (q35 and pc) gives a guest.
using System;
using System.Collections.Generic;

namespace Percy.Tests.Support
{
    public static class AcpiBuilder
    {
        public const int HeaderSize = 36;

        public static byte[] Table(string signature, byte revision, byte[] body)
        {
            var w = new ByteWriter().Ascii(signature).U32((uint)(HeaderSize + body.Length)).U8(revision).U8(0)
                .Ascii("BOCHS ").Ascii("BXPC    ").U32(1).Ascii("BXPC").U32(1).Bytes(body);
            byte[] t = w.ToArray();
            FixChecksum(t, 9, t.Length);
            return t;
        }

        // Sets the byte at checksumOffset so that bytes [0, length) sum to 0.
        public static void FixChecksum(byte[] b, int checksumOffset, int length)
        {
            b[checksumOffset] = 0;
            int sum = 0;
            for (int i = 0; i < length; i++) sum += b[i];
            b[checksumOffset] = (byte)(256 - (sum & 0xFF));
        }

        public static byte[] RsdpV1(uint rsdt)
        {
            byte[] r = new ByteWriter().Ascii("RSD PTR ").U8(0).Ascii("BOCHS ").U8(0).U32(rsdt).ToArray();
            FixChecksum(r, 8, 20);
            return r;
        }

        public static byte[] RsdpV2(uint rsdt, ulong xsdt)
        {
            byte[] r = new ByteWriter().Ascii("RSD PTR ").U8(0).Ascii("BOCHS ").U8(2).U32(rsdt)
                .U32(36).U64(xsdt).U8(0).Zeros(3).ToArray();
            FixChecksum(r, 8, 20);
            FixChecksum(r, 32, 36);
            return r;
        }

        public static byte[] Rsdt(params uint[] tables)
        {
            var w = new ByteWriter();
            foreach (uint t in tables) w.U32(t);
            return Table("RSDT", 1, w.ToArray());
        }

        public static byte[] Xsdt(params ulong[] tables)
        {
            var w = new ByteWriter();
            foreach (ulong t in tables) w.U64(t);
            return Table("XSDT", 1, w.ToArray());
        }

        public sealed class FadtFields
        {
            public uint Dsdt;
            public ulong XDsdt;
            public ushort SciInterrupt = 9;
            public uint SmiCommand = 0xB2;
            public byte AcpiEnable = 0x02, AcpiDisable = 0x03;
            public uint Pm1aEvent = 0x600, Pm1bEvent, Pm1aControl = 0x604, Pm1bControl, PmTimer = 0x608;
            public byte Pm1EventLength = 4, Pm1ControlLength = 2, PmTimerLength = 4;
            public uint Flags = 0x000084A5;         // QEMU q35: WBINVD, PROC_C1, SLP_BUTTON, RTC_S4, TMR_VAL_EXT, RESET_REG_SUP
            public byte[] ResetRegister = { 1, 8, 0, 0, 0xF9, 0x0C, 0, 0, 0, 0, 0, 0 };   // I/O port 0xCF9
            public byte ResetValue = 0x0F;
            public bool WriteExtendedBlocks = true;
        }

        // A FADT of the given total length (116: ACPI 1.0; 244: QEMU's revision 3; 276: ACPI 6).
        public static byte[] Fadt(FadtFields f, int length = 244, byte revision = 3)
        {
            byte[] t = new byte[276];
            void W32(int o, uint v) => ByteWriter.WriteU32(t, o, v);
            void W64(int o, ulong v) { W32(o, (uint)v); W32(o + 4, (uint)(v >> 32)); }
            void Gas(int o, byte space, byte width, ulong address) { t[o] = space; t[o + 1] = width; t[o + 2] = 0; t[o + 3] = 0; W64(o + 4, address); }
            W32(36, 0);                             // FIRMWARE_CTRL
            W32(40, f.Dsdt);
            t[46] = (byte)f.SciInterrupt; t[47] = (byte)(f.SciInterrupt >> 8);
            W32(48, f.SmiCommand);
            t[52] = f.AcpiEnable; t[53] = f.AcpiDisable;
            W32(56, f.Pm1aEvent); W32(60, f.Pm1bEvent); W32(64, f.Pm1aControl); W32(68, f.Pm1bControl);
            W32(76, f.PmTimer);
            t[88] = f.Pm1EventLength; t[89] = f.Pm1ControlLength; t[91] = f.PmTimerLength;
            W32(112, f.Flags);
            Array.Copy(f.ResetRegister, 0, t, 116, 12);
            t[128] = f.ResetValue;
            W64(140, f.XDsdt);
            if (f.WriteExtendedBlocks)
            {
                Gas(148, 1, (byte)(f.Pm1EventLength * 8), f.Pm1aEvent);
                Gas(160, 1, (byte)(f.Pm1EventLength * 8), f.Pm1bEvent);
                Gas(172, 1, (byte)(f.Pm1ControlLength * 8), f.Pm1aControl);
                Gas(184, 1, (byte)(f.Pm1ControlLength * 8), f.Pm1bControl);
                Gas(208, 1, (byte)(f.PmTimerLength * 8), f.PmTimer);
            }
            byte[] body = new byte[length - HeaderSize];
            Array.Copy(t, HeaderSize, body, 0, body.Length);
            return Table("FACP", revision, body);
        }

        // QEMU's MADT for n CPUs: local APIC at 0xFEE00000, PC-AT compatible, one local APIC
        // per CPU, the I/O APIC, the ISA overrides and a local APIC NMI for all CPUs.
        public static byte[] MadtQemu(int cpus)
        {
            var w = new ByteWriter().U32(0xFEE00000).U32(1);
            for (int i = 0; i < cpus; i++) w.U8(0).U8(8).U8(i).U8(i).U32(1);
            w.U8(1).U8(12).U8(0).U8(0).U32(0xFEC00000).U32(0);
            w.U8(2).U8(10).U8(0).U8(0).U32(2).U16(0);
            foreach (int irq in new[] { 5, 9, 10, 11 }) w.U8(2).U8(10).U8(0).U8(irq).U32((uint)irq).U16(0x0D);
            w.U8(4).U8(6).U8(0xFF).U16(0).U8(1);
            return Table("APIC", 1, w.ToArray());
        }

        public static byte[] Dsdt(byte[] aml) => Table("DSDT", 1, aml);
    }

    // A fake physical memory image starting at Base: tables are placed at increasing
    // 16-byte-aligned addresses, as firmware places them.
    public sealed class FakePhysicalMemory
    {
        readonly ByteWriter _w = new ByteWriter();
        public ulong Base { get; }
        public FakePhysicalMemory(ulong physicalBase) { Base = physicalBase; }

        public ulong NextAddress => Base + (ulong)((_w.Length + 15) & ~15);

        public ulong Place(byte[] data)
        {
            _w.Align(16);
            ulong address = Base + (ulong)_w.Length;
            _w.Bytes(data);
            return address;
        }

        public byte[] Image => _w.ToArray();
    }
}
