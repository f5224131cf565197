using System;
using System.Text;
using Percy.Kernel.Arch;
using Xunit;

namespace Percy.Tests
{
    /// <summary>
    /// Which CPUs get the MP specification's 10 ms INIT delay: Linux's list
    /// (smp_quirk_init_udelay), checked against real CPUID signatures.
    /// </summary>
    public class InitDelayTests
    {
        [Theory]
        [InlineData("GenuineIntel", 0x00050654u, 6u, false)]       // Skylake-SP (QEMU Skylake-Server)
        [InlineData("GenuineIntel", 0x000906EAu, 6u, false)]       // Coffee Lake
        [InlineData("GenuineIntel", 0x00000F29u, 15u, true)]       // Pentium 4 (NetBurst)
        [InlineData("GenuineIntel", 0x00000543u, 5u, true)]        // Pentium
        [InlineData("AuthenticAMD", 0x00060FB1u, 15u, false)]      // QEMU qemu64
        [InlineData("AuthenticAMD", 0x00000F51u, 15u, false)]      // Opteron (K8)
        [InlineData("AuthenticAMD", 0x00800F12u, 0x17u, false)]    // EPYC 7601 (Zen)
        [InlineData("AuthenticAMD", 0x00000662u, 6u, true)]        // Athlon (K7)
        [InlineData("HygonGenuine", 0x00900F01u, 0x18u, false)]    // Dhyana
        [InlineData("CentaurHauls", 0x000006F2u, 6u, true)]        // a vendor Linux does not list
        public void Delay_follows_linux_list(string vendor, uint cpuid1Eax, uint family, bool needed)
        {
            (uint ebx, uint edx, uint ecx) = VendorRegisters(vendor);
            Assert.Equal(family, InitDelay.Family(cpuid1Eax));
            Assert.Equal(needed, InitDelay.Needed(ebx, edx, ecx, cpuid1Eax));
        }

        [Fact]
        public void A_vendor_string_one_letter_off_is_not_trusted()
        {
            (uint ebx, uint edx, uint ecx) = VendorRegisters("GenuineIntel");
            Assert.False(InitDelay.Needed(ebx, edx, ecx, 0x00050654u));
            Assert.True(InitDelay.Needed(ebx, edx, ecx ^ 1, 0x00050654u));
            Assert.True(InitDelay.Needed(ebx, ecx, edx, 0x00050654u));     // registers swapped
        }

        // CPUID.0 spreads the 12-byte vendor string over EBX, EDX, ECX, little-endian.
        static (uint Ebx, uint Edx, uint Ecx) VendorRegisters(string vendor)
        {
            byte[] bytes = Encoding.ASCII.GetBytes(vendor);
            return (BitConverter.ToUInt32(bytes, 0), BitConverter.ToUInt32(bytes, 4), BitConverter.ToUInt32(bytes, 8));
        }
    }
}
