// Malformed Multiboot2 information: cut at every byte, mutated at random. The input sits
// right before a PROT_NONE page, so a read past its end kills the test host.
using System;
using Percy.Kernel.Multiboot;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Tests
{
    public unsafe class Multiboot2RobustnessTests
    {
        const ulong Phys = 0x10000;

        static void AssertInside(byte* p, int n, byte* q, long length, string what)
        {
            Assert.True(q >= p && length >= 0 && q + length <= p + n, what + " points outside the information");
        }

        // Whatever the parser reports must lie inside the bytes it was given.
        static void AssertResultInside(BootInformation r, byte* p, int n)
        {
            if (r.HasCommandLine) AssertInside(p, n, r.CommandLine, r.CommandLineLength + 1, "command line");
            if (r.HasBootLoaderName) AssertInside(p, n, r.BootLoaderName, r.BootLoaderNameLength + 1, "boot loader name");
            for (int i = 0; i < r.ModuleCount; i++)
            {
                AssertInside(p, n, r.Modules[i].String, r.Modules[i].StringLength + 1, "module string");
                Assert.True(r.Modules[i].End >= r.Modules[i].Start);
            }
            Assert.InRange(r.MemoryMapCount, 0, BootInformation.MaxMemoryRegions);
            if (r.RsdpVersion != 0)
            {
                AssertInside(p, n, r.Rsdp, r.RsdpLength, "RSDP");
                Assert.Equal(Phys + (ulong)(r.Rsdp - p), r.RsdpPhysical);
                Assert.True(r.RsdpLength >= (r.RsdpVersion == 2 ? 36u : 20u));
            }
            if (r.ElfSections.Present)
                AssertInside(p, n, r.ElfSections.Headers, (long)r.ElfSections.Count * r.ElfSections.EntrySize, "ELF section headers");
            if (r.Framebuffer.Present && r.Framebuffer.Type == FramebufferType.Indexed)
                AssertInside(p, n, r.Framebuffer.Palette, r.Framebuffer.PaletteCount * 3, "palette");
            for (int i = 0; i < r.Warnings.Count; i++) Assert.False(string.IsNullOrEmpty(r.Warnings[i].Reason));
            Assert.True(r.TotalSize <= n);
        }

        [Fact]
        public void CutAtEveryByteWithTheOriginalTotalSizeFailsCleanly()
        {
            byte[] info = Multiboot2Tests.QemuLike().Build();
            using var mem = new GuardedMemory(info.Length);
            var r = new BootInformation();
            for (int n = 0; n <= info.Length; n++)
            {
                byte* p = mem.PlaceAtEnd(info, n);
                bool ok = Multiboot2.Parse(p, Phys, (ulong)n, r, out string error);
                if (n < info.Length)
                {
                    Assert.False(ok);
                    Assert.False(string.IsNullOrEmpty(error));
                }
                else
                {
                    Assert.True(ok, error);
                    Assert.True(r.EndTagSeen);
                }
            }
        }

        [Fact]
        public void CutAtEveryByteWithAMatchingTotalSizeKeepsWhatIsWhole()
        {
            byte[] info = Multiboot2Tests.QemuLike().Build();
            using var mem = new GuardedMemory(info.Length);
            var r = new BootInformation();
            int commandLineEnd = 8 + 8 + "percpu.unit=2M loglevel=7".Length + 1;
            for (int n = 4; n <= info.Length; n++)
            {
                byte[] cut = new byte[n];
                Array.Copy(info, cut, n);
                ByteWriter.WriteU32(cut, 0, (uint)n);
                byte* p = mem.PlaceAtEnd(cut);
                bool ok = Multiboot2.Parse(p, Phys, (ulong)n, r, out string error);
                if (n < 8)
                {
                    Assert.False(ok);
                    Assert.Equal("fewer than 8 bytes of boot information are readable", error);
                    continue;
                }
                Assert.True(ok, error);
                AssertResultInside(r, p, n);
                Assert.Equal(n >= commandLineEnd, r.HasCommandLine);
                if (n < info.Length)
                {
                    Assert.False(r.EndTagSeen);
                    Assert.True(r.Warnings.Count > 0);
                }
            }
        }

        [Fact]
        public void CallerLimitSmallerThanTotalSizeIsRespected()
        {
            byte[] info = Multiboot2Tests.QemuLike().Build();
            using var mem = new GuardedMemory(info.Length);
            byte* p = mem.PlaceAtEnd(info);
            var r = new BootInformation();
            for (int limit = 0; limit < info.Length; limit++)
            {
                Assert.False(Multiboot2.Parse(p, Phys, (ulong)limit, r, out string error));
                Assert.NotNull(error);
            }
        }

        [Fact]
        public void RandomMutationsNeverReadOutOfBounds()
        {
            byte[] original = Multiboot2Tests.QemuLike().Build();
            var tagOffsets = Multiboot2Tests.QemuLike().TagOffsets;
            using var mem = new GuardedMemory(original.Length);
            var r = new BootInformation();
            var rng = new Random(20261123);
            int parsed = 0, warned = 0;
            for (int iteration = 0; iteration < 4000; iteration++)
            {
                byte[] info = (byte[])original.Clone();
                int mutations = rng.Next(1, 6);
                for (int m = 0; m < mutations; m++)
                {
                    switch (rng.Next(4))
                    {
                        case 0: info[rng.Next(info.Length)] = (byte)rng.Next(256); break;
                        case 1:
                        {
                            // A tag's type or size field: small, large, or unaligned values.
                            int tag = tagOffsets[rng.Next(tagOffsets.Count)] + (rng.Next(2) == 0 ? 0 : 4);
                            uint[] interesting = { 0, 1, 7, 8, 9, 15, 16, 17, 20, 24, 0x7FFFFFFF, 0xFFFFFFFF, (uint)rng.Next(0, 512) };
                            ByteWriter.WriteU32(info, tag, interesting[rng.Next(interesting.Length)]);
                            break;
                        }
                        case 2:
                        {
                            // A field inside a tag (entry sizes, counts, string terminators).
                            int tag = tagOffsets[rng.Next(tagOffsets.Count)];
                            int at = Math.Min(info.Length - 4, tag + 8 + 4 * rng.Next(0, 4));
                            ByteWriter.WriteU32(info, at, (uint)rng.Next(int.MinValue, int.MaxValue));
                            break;
                        }
                        default:
                            for (int k = 0; k < info.Length; k++) if (info[k] == 0 && rng.Next(8) == 0) info[k] = (byte)'x';
                            break;
                    }
                }
                int n = rng.Next(2) == 0 ? info.Length : rng.Next(8, info.Length);
                byte* p = mem.PlaceAtEnd(info, n);
                bool ok = Multiboot2.Parse(p, Phys, (ulong)n, r, out string error);
                if (ok)
                {
                    parsed++;
                    AssertResultInside(r, p, n);
                    if (r.Warnings.Count > 0) warned++;
                }
                else Assert.False(string.IsNullOrEmpty(error));
            }
            // The mutations exercise both outcomes.
            Assert.True(parsed > 100 && warned > 100, $"parsed {parsed}, warned {warned}");
        }
    }
}
