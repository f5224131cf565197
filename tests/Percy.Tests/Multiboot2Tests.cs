using Percy.Kernel;
using System;
using System.Collections.Generic;
using System.Text;
using Percy.Kernel.Multiboot;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class Multiboot2Tests : IDisposable
    {
        const ulong Phys = 0x10000;                 // where the "boot loader" put the information

        // Guarded memory lives until the test ends: results point into it.
        readonly List<GuardedMemory> _memories = new List<GuardedMemory>();
        public void Dispose() { foreach (var m in _memories) m.Dispose(); }
        GuardedMemory Memory(int size) { var m = new GuardedMemory(size); _memories.Add(m); return m; }

        static string Str(byte* p, int n) => Encoding.ASCII.GetString(p, n);

        // GRUB-like information: the tags a BIOS boot of Percy in QEMU gets.
        internal static Multiboot2Builder QemuLike()
        {
            return new Multiboot2Builder()
                .CommandLine("percpu.unit=2M loglevel=7")
                .BootLoaderName("GRUB 2.06-13+deb12u1")
                .Module(0x200000, 0x203000, "/boot/hello.kmod arg=1")
                .BasicMemory(639, 523136)
                .MemoryMap(new (ulong, ulong, uint)[]
                {
                    (0x0, 0x9FC00, 1), (0x9FC00, 0x400, 2), (0xF0000, 0x10000, 2),
                    (0x100000, 0x1FEE0000, 1), (0x1FFE0000, 0x20000, 2), (0xFEFFC000, 0x4000, 2), (0xFFFC0000, 0x40000, 2),
                })
                .FramebufferRgb(0xFD000000, 4096, 1024, 768, 32, 16, 8, 8, 8, 0, 8)
                .ElfSections(3, 64, 2, new byte[3 * 64])
                .AcpiOld(AcpiBuilder.RsdpV1(0x1FFE1234))
                .LoadBase(0x100000)
                .End();
        }

        static bool Parse(GuardedMemory mem, byte[] info, BootInformation result, out string error, ulong? maxReadable = null)
        {
            byte* p = mem.PlaceAtEnd(info);
            return Multiboot2.Parse(p, Phys, maxReadable ?? (ulong)info.Length, result, out error);
        }

        [Fact]
        public void ParsesEveryTagOfGrubLikeInformation()
        {
            byte[] info = QemuLike().Build();
            using var mem = new GuardedMemory(info.Length);
            byte* p = mem.PlaceAtEnd(info);
            var r = new BootInformation();
            Assert.True(Multiboot2.Parse(p, Phys, (ulong)info.Length, r, out string error), error);
            Assert.Null(error);
            Assert.Equal(0, r.Warnings.Count);
            Assert.True(r.EndTagSeen);
            Assert.Equal((uint)info.Length, r.TotalSize);
            Assert.Equal("percpu.unit=2M loglevel=7", Str(r.CommandLine, r.CommandLineLength));
            Assert.Equal("GRUB 2.06-13+deb12u1", Str(r.BootLoaderName, r.BootLoaderNameLength));
            Assert.Equal(1, r.ModuleCount);
            Assert.Equal(0x200000ul, r.Modules[0].Start);
            Assert.Equal(0x203000ul, r.Modules[0].End);
            Assert.Equal("/boot/hello.kmod arg=1", Str(r.Modules[0].String, r.Modules[0].StringLength));
            Assert.True(r.HasBasicMemory);
            Assert.Equal(639u, r.LowerMemoryKiB);
            Assert.Equal(523136u, r.UpperMemoryKiB);
            Assert.True(r.HasMemoryMap);
            Assert.Equal(7, r.MemoryMapCount);
            Assert.Equal(0x100000ul, r.MemoryMap[3].Base);
            Assert.Equal(0x1FEE0000ul, r.MemoryMap[3].Length);
            Assert.Equal(MemoryRegionType.Available, r.MemoryMap[3].Type);
            Assert.True(r.Framebuffer.Present);
            Assert.Equal(0xFD000000ul, r.Framebuffer.Address);
            Assert.Equal(4096u, r.Framebuffer.Pitch);
            Assert.Equal(1024u, r.Framebuffer.Width);
            Assert.Equal(768u, r.Framebuffer.Height);
            Assert.Equal(32, r.Framebuffer.BitsPerPixel);
            Assert.Equal(FramebufferType.Rgb, r.Framebuffer.Type);
            Assert.Equal(16, r.Framebuffer.RedPosition);
            Assert.Equal(8, r.Framebuffer.GreenPosition);
            Assert.Equal(0, r.Framebuffer.BluePosition);
            Assert.Equal(8, r.Framebuffer.BlueSize);
            Assert.True(r.ElfSections.Present);
            Assert.Equal(3u, r.ElfSections.Count);
            Assert.Equal(64u, r.ElfSections.EntrySize);
            Assert.Equal(2u, r.ElfSections.StringTableIndex);
            Assert.True(r.ElfSections.Headers > p && r.ElfSections.Headers + 3 * 64 <= p + info.Length);
            Assert.Equal(1, r.RsdpVersion);
            Assert.Equal(20u, r.RsdpLength);
            Assert.Equal((byte)'R', r.Rsdp[0]);
            Assert.Equal(Phys + (ulong)(r.Rsdp - p), r.RsdpPhysical);
            Assert.True(r.HasLoadBaseAddress);
            Assert.Equal(0x100000u, r.LoadBaseAddress);
        }

        [Fact]
        public void NewAcpiTagWinsOverOldInEitherOrder()
        {
            byte[] v1 = AcpiBuilder.RsdpV1(0x1000), v2 = AcpiBuilder.RsdpV2(0x1000, 0x2000);
            foreach (bool newFirst in new[] { false, true })
            {
                var b = new Multiboot2Builder();
                if (newFirst) b.AcpiNew(v2).AcpiOld(v1); else b.AcpiOld(v1).AcpiNew(v2);
                byte[] info = b.End().Build();
                using var mem = new GuardedMemory(info.Length);
                var r = new BootInformation();
                Assert.True(Parse(mem, info, r, out _));
                Assert.Equal(2, r.RsdpVersion);
                Assert.Equal(36u, r.RsdpLength);
                Assert.Equal(2, r.Rsdp[15]);
                Assert.Equal(0, r.Warnings.Count);
            }
        }

        [Fact]
        public void IndexedAndEgaFramebuffers()
        {
            byte[] palette = { 0, 0, 0, 255, 255, 255 };
            byte[] info = new Multiboot2Builder().FramebufferIndexed(0xA0000, 320, 320, 200, 8, palette).End().Build();
            using var mem = new GuardedMemory(info.Length);
            var r = new BootInformation();
            Assert.True(Parse(mem, info, r, out _));
            Assert.True(r.Framebuffer.Present);
            Assert.Equal(FramebufferType.Indexed, r.Framebuffer.Type);
            Assert.Equal(2u, r.Framebuffer.PaletteCount);
            Assert.Equal(255, r.Framebuffer.Palette[3]);

            info = new Multiboot2Builder().FramebufferEgaText(0xB8000, 80, 25).End().Build();
            using var mem2 = new GuardedMemory(info.Length);
            Assert.True(Parse(mem2, info, r, out _));
            Assert.True(r.Framebuffer.Present);
            Assert.Equal(FramebufferType.EgaText, r.Framebuffer.Type);
            Assert.Equal(80u, r.Framebuffer.Width);
            Assert.Equal(0xB8000ul, r.Framebuffer.Address);
        }

        // ---- broken headers: Parse fails with a reason ----

        [Theory]
        [InlineData(0u, "total_size is smaller than the 8-byte header")]
        [InlineData(7u, "total_size is smaller than the 8-byte header")]
        [InlineData(0x100008u, "total_size is larger than 1 MiB")]
        [InlineData(0xFFFFFFFFu, "total_size is larger than 1 MiB")]
        [InlineData(4096u, "total_size runs past the memory the caller allows")]
        public void BrokenTotalSizeFailsTheParse(uint totalSize, string reason)
        {
            byte[] info = QemuLike().Build(totalSize);
            using var mem = new GuardedMemory(info.Length);
            var r = new BootInformation();
            Assert.False(Parse(mem, info, r, out string error));
            Assert.Equal(reason, error);
        }

        [Fact]
        public void NullPointerTooLittleMemoryAndMisalignmentFail()
        {
            var r = new BootInformation();
            Assert.False(Multiboot2.Parse(null, Phys, 4096, r, out string error));
            Assert.Equal("the boot information pointer is null", error);
            byte[] info = QemuLike().Build();
            using var mem = new GuardedMemory(info.Length);
            byte* p = mem.PlaceAtEnd(info);
            Assert.False(Multiboot2.Parse(p, Phys, 7, r, out error));
            Assert.Equal("fewer than 8 bytes of boot information are readable", error);
            Assert.False(Multiboot2.Parse(p, Phys + 4, (ulong)info.Length, r, out error));
            Assert.Equal("the boot information is not 8-byte aligned", error);
            Assert.False(Multiboot2.Parse(p, Phys, (ulong)info.Length, null, out error));
            Assert.NotNull(error);
        }

        // ---- broken tags: skipped with a warning ----

        BootInformation ParseWithWarnings(byte[] info, out bool ok)
        {
            var mem = Memory(info.Length);
            var r = new BootInformation();
            ok = Parse(mem, info, r, out string error);
            Assert.True(ok, error);
            return r;
        }

        static void AssertWarning(BootInformation r, uint tag, string reason)
        {
            for (int i = 0; i < r.Warnings.Count; i++)
                if (r.Warnings[i].Code == tag && r.Warnings[i].Reason == reason) return;
            var seen = new StringBuilder();
            for (int i = 0; i < r.Warnings.Count; i++) seen.Append(r.Warnings[i].Code).Append(": ").Append(r.Warnings[i].Reason).Append("; ");
            Assert.Fail($"no warning {tag}: {reason}; saw {seen}");
        }

        [Fact]
        public void TagSizeBelowEightStopsTheWalk()
        {
            byte[] info = new Multiboot2Builder().CommandLine("a").RawTag(2, 4, new byte[8]).CommandLine("never").End().Build();
            var r = ParseWithWarnings(info, out _);
            Assert.True(r.HasCommandLine);
            Assert.False(r.HasBootLoaderName);
            Assert.False(r.EndTagSeen);
            AssertWarning(r, 2, "tag size is smaller than 8; the tags after it are unreadable");
            AssertWarning(r, 0, "no end tag before total_size");
        }

        [Fact]
        public void ZeroSizeTagStopsTheWalkInsteadOfLooping()
        {
            byte[] info = new Multiboot2Builder().RawTag(1, 0, new byte[0]).End().Build();
            var r = ParseWithWarnings(info, out _);
            AssertWarning(r, 1, "tag size is smaller than 8; the tags after it are unreadable");
            Assert.False(r.EndTagSeen);
        }

        [Fact]
        public void TagRunningPastTotalSizeIsReported()
        {
            byte[] info = new Multiboot2Builder().CommandLine("ok").RawTag(6, 0x1000, new byte[16]).Build();
            var r = ParseWithWarnings(info, out _);
            Assert.True(r.HasCommandLine);
            Assert.False(r.HasMemoryMap);
            AssertWarning(r, 6, "tag length runs past the end of the information");
        }

        [Fact]
        public void UnterminatedStringsAreSkipped()
        {
            byte[] info = new Multiboot2Builder()
                .Tag(1, Encoding.ASCII.GetBytes("no-nul"))
                .Tag(2, Encoding.ASCII.GetBytes("GRUB"))
                .Tag(3, new ByteWriter().U32(0x1000).U32(0x2000).Ascii("mod").ToArray())
                .Tag(1, new byte[0])
                .End().Build();
            var r = ParseWithWarnings(info, out _);
            Assert.False(r.HasCommandLine);
            Assert.False(r.HasBootLoaderName);
            Assert.Equal(0, r.ModuleCount);
            AssertWarning(r, 1, "command line is not NUL-terminated within its tag");
            AssertWarning(r, 2, "boot loader name is not NUL-terminated within its tag");
            AssertWarning(r, 3, "module string is not NUL-terminated within its tag");
            Assert.True(r.EndTagSeen);
        }

        [Fact]
        public void EmptyCommandLineIsValid()
        {
            var r = ParseWithWarnings(new Multiboot2Builder().CommandLine("").End().Build(), out _);
            Assert.True(r.HasCommandLine);
            Assert.Equal(0, r.CommandLineLength);
            Assert.Equal(0, r.Warnings.Count);
        }

        [Fact]
        public void ModulesEndingBeforeTheyStartAreRejected()
        {
            byte[] info = new Multiboot2Builder().Module(0x3000, 0x2000, "bad").Module(0x4000, 0x4000, "empty").End().Build();
            var r = ParseWithWarnings(info, out _);
            Assert.Equal(1, r.ModuleCount);
            Assert.Equal(0x4000ul, r.Modules[0].Start);
            AssertWarning(r, 3, "module ends before it starts");
        }

        [Fact]
        public void TooManyModulesAreCappedWithOneWarning()
        {
            var b = new Multiboot2Builder();
            for (int i = 0; i < BootInformation.MaxModules + 5; i++) b.Module((uint)i * 0x1000, (uint)i * 0x1000 + 0x10, "m");
            var r = ParseWithWarnings(b.End().Build(), out _);
            Assert.Equal(BootInformation.MaxModules, r.ModuleCount);
            Assert.Equal(1, r.Warnings.Count);
            AssertWarning(r, 3, "more than 32 modules; the rest are ignored");
        }

        [Theory]
        [InlineData(16u, "memory map entry_size is smaller than 24")]
        [InlineData(0u, "memory map entry_size is smaller than 24")]
        [InlineData(28u, "memory map entry_size is not a multiple of 8")]
        public void BadMemoryMapEntrySizesAreRejected(uint entrySize, string reason)
        {
            byte[] payload = new ByteWriter().U32(entrySize).U32(0).Zeros(48).ToArray();
            var r = ParseWithWarnings(new Multiboot2Builder().Tag(6, payload).End().Build(), out _);
            Assert.False(r.HasMemoryMap);
            AssertWarning(r, 6, reason);
        }

        [Fact]
        public void LargerMemoryMapEntriesAndPartialTailAreHandled()
        {
            var entries = new (ulong, ulong, uint)[] { (0, 0x9F000, 1), (0x100000, 0x100000, 1) };
            byte[] info = new Multiboot2Builder().MemoryMap(entries, entrySize: 32, version: 1).End().Build();
            var r = ParseWithWarnings(info, out _);
            Assert.Equal(2, r.MemoryMapCount);
            Assert.Equal(0x100000ul, r.MemoryMap[1].Base);
            Assert.Equal(1u, r.MemoryMapEntryVersion);
            AssertWarning(r, 6, "memory map entry_version is not 0; reading entries as version 0");

            // A tag whose size leaves 8 extra bytes: one partial entry.
            byte[] payload = new ByteWriter().U32(24).U32(0).U64(0).U64(0x1000).U32(1).U32(0).Zeros(8).ToArray();
            r = ParseWithWarnings(new Multiboot2Builder().Tag(6, payload).End().Build(), out _);
            Assert.Equal(1, r.MemoryMapCount);
            AssertWarning(r, 6, "memory map ends with a partial entry; it is ignored");
        }

        [Fact]
        public void MemoryMapOver256EntriesIsCapped()
        {
            var entries = new List<(ulong, ulong, uint)>();
            for (int i = 0; i < 300; i++) entries.Add(((ulong)i << 20, 0x1000, 1));
            var r = ParseWithWarnings(new Multiboot2Builder().MemoryMap(entries).End().Build(), out _);
            Assert.Equal(256, r.MemoryMapCount);
            Assert.Equal(255ul << 20, r.MemoryMap[255].Base);
            AssertWarning(r, 6, "memory map has more than 256 entries; the rest are ignored");
        }

        [Fact]
        public void ShortAndDuplicateTagsAreReported()
        {
            byte[] info = new Multiboot2Builder()
                .Tag(4, new byte[4])
                .Tag(21, new byte[0])
                .Tag(14, new byte[12])
                .Tag(15, AcpiBuilder.RsdpV1(0x1000))
                .Tag(8, new byte[8])
                .Tag(9, new byte[4])
                .CommandLine("a").CommandLine("b")
                .End().Build();
            var r = ParseWithWarnings(info, out _);
            AssertWarning(r, 4, "basic memory information tag is shorter than 16 bytes");
            AssertWarning(r, 21, "load base address tag is shorter than 12 bytes");
            AssertWarning(r, 14, "ACPI tag is too short for an RSDPv1 (20 bytes)");
            AssertWarning(r, 15, "ACPI tag is too short for an RSDPv2 (36 bytes)");
            AssertWarning(r, 8, "framebuffer tag is shorter than 32 bytes");
            AssertWarning(r, 9, "ELF sections tag is shorter than 20 bytes");
            AssertWarning(r, 1, "duplicate command line tag ignored");
            Assert.Equal("a", Str(r.CommandLine, r.CommandLineLength));
            Assert.Equal(0, r.RsdpVersion);
            Assert.False(r.HasBasicMemory);
        }

        [Fact]
        public void BadFramebuffersAreReported()
        {
            var cases = new (byte[] payload, string reason)[]
            {
                (new ByteWriter().U64(0xFD000000).U32(4096).U32(1024).U32(768).U8(32).U8(1).U16(0).U8(16).U8(8).ToArray(),
                 "RGB framebuffer tag is too short for its colour fields"),
                (new ByteWriter().U64(0xA0000).U32(320).U32(320).U32(200).U8(8).U8(0).U16(0).U16(100).Zeros(9).ToArray(),
                 "framebuffer palette runs past the end of its tag"),
                (new ByteWriter().U64(0xA0000).U32(320).U32(320).U32(200).U8(8).U8(0).U16(0).ToArray(),
                 "indexed framebuffer tag is too short for its palette size"),
                (new ByteWriter().U64(0xA0000).U32(320).U32(320).U32(200).U8(8).U8(7).U16(0).ToArray(),
                 "unknown framebuffer type"),
                (new ByteWriter().U64(0xFD000000).U32(100).U32(1024).U32(768).U8(32).U8(1).U16(0).Zeros(6).ToArray(),
                 "framebuffer pitch is smaller than a row of pixels"),
                (new ByteWriter().U64(0xFD000000).U32(4096).U32(0).U32(768).U8(32).U8(1).U16(0).Zeros(6).ToArray(),
                 "framebuffer has zero width, height or depth"),
            };
            foreach (var (payload, reason) in cases)
            {
                var r = ParseWithWarnings(new Multiboot2Builder().Tag(8, payload).End().Build(), out _);
                Assert.False(r.Framebuffer.Present, reason);
                AssertWarning(r, 8, reason);
            }
        }

        [Fact]
        public void BadElfSectionTagsAreReported()
        {
            var cases = new (uint count, uint entsize, uint shndx, int bytes, string reason)[]
            {
                (3, 40, 1, 120, "ELF section entry size is smaller than an Elf64_Shdr"),
                (4, 64, 1, 192, "ELF section headers run past the end of their tag"),
                (0xFFFFFFFF, 0xFFFFFFFF, 0, 64, "ELF section headers run past the end of their tag"),
                (3, 64, 3, 192, "ELF section name index is out of range"),
            };
            foreach (var c in cases)
            {
                var r = ParseWithWarnings(new Multiboot2Builder().ElfSections(c.count, c.entsize, c.shndx, new byte[c.bytes]).End().Build(), out _);
                Assert.False(r.ElfSections.Present, c.reason);
                AssertWarning(r, 9, c.reason);
            }
        }

        [Fact]
        public void UnknownTagsAreIgnoredSilently()
        {
            byte[] info = new Multiboot2Builder().Tag(0x7777, new byte[13]).Tag(17, new byte[40]).CommandLine("x").End().Build();
            var r = ParseWithWarnings(info, out _);
            Assert.True(r.HasCommandLine);
            Assert.Equal(0, r.Warnings.Count);
        }

        [Fact]
        public void MissingEndTagAndTrailingBytesAreReported()
        {
            byte[] info = new Multiboot2Builder().CommandLine("x").Build();
            var r = ParseWithWarnings(info, out _);
            Assert.True(r.HasCommandLine);
            AssertWarning(r, 0, "no end tag before total_size");

            byte[] withTail = new byte[info.Length + 4];
            Array.Copy(info, withTail, info.Length);
            ByteWriter.WriteU32(withTail, 0, (uint)withTail.Length);
            r = ParseWithWarnings(withTail, out _);
            AssertWarning(r, 0, "bytes after the last tag are too few for a tag header");
        }

        [Fact]
        public void WarningsBeyondSixteenAreCounted()
        {
            var b = new Multiboot2Builder();
            for (int i = 0; i < 20; i++) b.Tag(4, new byte[4]);
            var r = ParseWithWarnings(b.End().Build(), out _);
            Assert.Equal(ProblemList.Capacity, r.Warnings.Count);
            Assert.Equal(4, r.Warnings.Dropped);
        }

        [Fact]
        public void ResultIsClearedBetweenParses()
        {
            byte[] full = QemuLike().Build();
            byte[] empty = new Multiboot2Builder().End().Build();
            using var mem = new GuardedMemory(full.Length);
            var r = new BootInformation();
            Assert.True(Parse(mem, full, r, out _));
            Assert.True(r.HasCommandLine && r.MemoryMapCount > 0 && r.ModuleCount > 0);
            Assert.True(Parse(mem, empty, r, out _));
            Assert.False(r.HasCommandLine || r.HasMemoryMap || r.Framebuffer.Present || r.ElfSections.Present);
            Assert.Equal(0, r.MemoryMapCount);
            Assert.Equal(0, r.ModuleCount);
            Assert.Equal(0, r.RsdpVersion);
        }
    }
}
