// A QEMU-like set of ACPI tables in fake physical memory, ready to be placed in guarded
// memory and read through a PhysicalWindow.
using System;
using Percy.Kernel.Acpi;

namespace Percy.Tests.Support
{
    public sealed unsafe class AcpiImage : IDisposable
    {
        public const ulong PhysicalBase = 0x7FE0000;     // where QEMU puts the tables for 128 MiB

        // Name(_S5_, Package(){0x05, 0x05, 0, 0}) as iasl encodes it, after other typical
        // DSDT content and decoys (a method and a string that spell _S5_).
        public static readonly byte[] TypicalAml =
        {
            0x10, 0x0C, 0x5C, 0x5F, 0x53, 0x42, 0x5F, 0x08, 0x5F, 0x48, 0x49, 0x44, 0x01,   // Scope(\_SB_){Name(_HID, One)}
            0x14, 0x06, 0x5F, 0x53, 0x35, 0x5F, 0x00,                                     // Method(_S5_, 0) {} (a decoy)
            0x0D, 0x5F, 0x53, 0x35, 0x5F, 0x00,                                           // "_S5_" string (a decoy)
            0x08, 0x5F, 0x53, 0x33, 0x5F, 0x12, 0x06, 0x04, 0x01, 0x01, 0x00, 0x00,       // Name(_S3_, Package(){1, 1, 0, 0})
            0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00, // Name(_S5_, Package(){5, 5, 0, 0})
            0x14, 0x06, 0x5F, 0x50, 0x54, 0x53, 0x01,                                     // Method(_PTS, 1) {}
        };

        public byte[] Image;
        public ulong Dsdt, Fadt, Madt, Hpet, Rsdt, Xsdt;
        public byte[] RsdpV1, RsdpV2;

        GuardedMemory _memory;
        public byte* Pointer;                       // the image's first byte, once placed
        public PhysicalWindow Window;

        public static AcpiImage Qemu(int cpus = 4, byte[] aml = null, Action<AcpiBuilder.FadtFields> fadt = null,
                                     int fadtLength = 244, byte fadtRevision = 3)
        {
            var a = new AcpiImage();
            var mem = new FakePhysicalMemory(PhysicalBase);
            a.Dsdt = mem.Place(AcpiBuilder.Dsdt(aml ?? TypicalAml));
            var f = new AcpiBuilder.FadtFields { Dsdt = (uint)a.Dsdt, XDsdt = a.Dsdt };
            fadt?.Invoke(f);
            a.Fadt = mem.Place(AcpiBuilder.Fadt(f, fadtLength, fadtRevision));
            a.Madt = mem.Place(AcpiBuilder.MadtQemu(cpus));
            a.Hpet = mem.Place(AcpiBuilder.Table("HPET", 1, new byte[20]));
            a.Rsdt = mem.Place(AcpiBuilder.Rsdt((uint)a.Fadt, (uint)a.Madt, (uint)a.Hpet));
            a.Xsdt = mem.Place(AcpiBuilder.Xsdt(a.Fadt, a.Madt, a.Hpet));
            a.Image = mem.Image;
            a.RsdpV1 = AcpiBuilder.RsdpV1((uint)a.Rsdt);
            a.RsdpV2 = AcpiBuilder.RsdpV2((uint)a.Rsdt, a.Xsdt);
            return a;
        }

        public int Offset(ulong physical) => (int)(physical - PhysicalBase);

        // Puts the image (as modified so far) at the end of guarded memory.
        public AcpiImage Place()
        {
            _memory ??= new GuardedMemory(Image.Length);
            Pointer = _memory.PlaceAtEnd(Image);
            Window = new PhysicalWindow(PhysicalBase, PhysicalBase + (ulong)Image.Length, (ulong)Pointer - PhysicalBase);
            return this;
        }

        public void Dispose() => _memory?.Dispose();
    }
}
