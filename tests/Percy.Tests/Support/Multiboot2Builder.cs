// Builds Multiboot2 boot information the way GRUB lays it out (multiboot2.h): an 8-byte
// header (total_size, reserved), tags padded to 8 bytes, an end tag.
using System.Collections.Generic;

namespace Percy.Tests.Support
{
    public sealed class Multiboot2Builder
    {
        readonly ByteWriter _w = new ByteWriter();
        readonly List<int> _tagOffsets = new List<int>();

        public Multiboot2Builder() { _w.U32(0).U32(0); }

        public IReadOnlyList<int> TagOffsets => _tagOffsets;

        // A tag with its size computed from the payload; the next tag starts 8-aligned.
        public Multiboot2Builder Tag(uint type, byte[] payload, int sizeAdjust = 0)
        {
            _tagOffsets.Add(_w.Length);
            _w.U32(type).U32((uint)(8 + payload.Length + sizeAdjust)).Bytes(payload).Align(8);
            return this;
        }

        // A tag whose size field is given verbatim (may lie).
        public Multiboot2Builder RawTag(uint type, uint size, byte[] payload)
        {
            _tagOffsets.Add(_w.Length);
            _w.U32(type).U32(size).Bytes(payload).Align(8);
            return this;
        }

        public Multiboot2Builder CommandLine(string s) => Tag(1, new ByteWriter().AsciiZ(s).ToArray());
        public Multiboot2Builder BootLoaderName(string s) => Tag(2, new ByteWriter().AsciiZ(s).ToArray());
        public Multiboot2Builder Module(uint start, uint end, string s) => Tag(3, new ByteWriter().U32(start).U32(end).AsciiZ(s).ToArray());
        public Multiboot2Builder BasicMemory(uint lower, uint upper) => Tag(4, new ByteWriter().U32(lower).U32(upper).ToArray());
        public Multiboot2Builder LoadBase(uint address) => Tag(21, new ByteWriter().U32(address).ToArray());
        public Multiboot2Builder AcpiOld(byte[] rsdp) => Tag(14, rsdp);
        public Multiboot2Builder AcpiNew(byte[] rsdp) => Tag(15, rsdp);

        public Multiboot2Builder MemoryMap(IEnumerable<(ulong start, ulong length, uint type)> entries, uint entrySize = 24, uint version = 0)
        {
            var w = new ByteWriter().U32(entrySize).U32(version);
            foreach (var e in entries)
            {
                int before = w.Length;
                w.U64(e.start).U64(e.length).U32(e.type).U32(0);
                while (w.Length - before < entrySize) w.U8(0);
            }
            return Tag(6, w.ToArray());
        }

        public Multiboot2Builder FramebufferRgb(ulong address, uint pitch, uint width, uint height, byte bpp,
                                                 byte rPos, byte rSize, byte gPos, byte gSize, byte bPos, byte bSize)
            => Tag(8, new ByteWriter().U64(address).U32(pitch).U32(width).U32(height).U8(bpp).U8(1).U16(0)
                                      .U8(rPos).U8(rSize).U8(gPos).U8(gSize).U8(bPos).U8(bSize).ToArray());

        public Multiboot2Builder FramebufferIndexed(ulong address, uint pitch, uint width, uint height, byte bpp, byte[] rgbTriples)
            => Tag(8, new ByteWriter().U64(address).U32(pitch).U32(width).U32(height).U8(bpp).U8(0).U16(0)
                                      .U16(rgbTriples.Length / 3).Bytes(rgbTriples).ToArray());

        public Multiboot2Builder FramebufferEgaText(ulong address, uint width, uint height)
            => Tag(8, new ByteWriter().U64(address).U32(width * 2).U32(width).U32(height).U8(16).U8(2).U16(0).ToArray());

        public Multiboot2Builder ElfSections(uint count, uint entrySize, uint shndx, byte[] headers)
            => Tag(9, new ByteWriter().U32(count).U32(entrySize).U32(shndx).Bytes(headers).ToArray());

        public Multiboot2Builder End() => Tag(0, new byte[0]);

        // Writes total_size (the real length unless given) and returns the bytes.
        public byte[] Build(uint? totalSize = null)
        {
            byte[] b = _w.ToArray();
            ByteWriter.WriteU32(b, 0, totalSize ?? (uint)b.Length);
            return b;
        }
    }
}
