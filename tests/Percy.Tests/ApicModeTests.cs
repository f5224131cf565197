using System.Collections.Generic;
using Percy.Kernel.Arch;
using Xunit;

namespace Percy.Tests
{
    /// <summary>
    /// The local APIC mode choice and the x2APIC register encodings. QEMU 7.2's TCG drops the
    /// x2APIC CPUID flag, so no QEMU boot reaches the x2APIC branch: what Percy does when CPUID
    /// offers x2APIC (as on every real CPU since Nehalem and Zen) is checked here.
    /// </summary>
    public class ApicModeTests
    {
        const uint WithX2Apic = ApicMode.Cpuid1EcxX2Apic;
        const uint WithoutX2Apic = 0;
        const ulong Address = 0xFEE00000;                             // the usual APIC base
        const ulong Bsp = 1ul << 8;                                   // IA32_APIC_BASE.BSP, kept as is
        const ulong Disabled = Address | Bsp;
        const ulong XApic = Address | Bsp | ApicMode.BaseEnable;
        const ulong X2Apic = XApic | ApicMode.BaseExtended;

        [Theory]
        [InlineData(WithX2Apic, XApic, false, ApicModeKind.X2Apic)]       // a real CPU as firmware leaves it
        [InlineData(WithX2Apic, Disabled, false, ApicModeKind.X2Apic)]
        [InlineData(WithoutX2Apic, XApic, false, ApicModeKind.XApic)]     // QEMU TCG, older CPUs
        [InlineData(WithX2Apic, XApic, true, ApicModeKind.XApic)]         // nox2apic
        [InlineData(WithX2Apic, X2Apic, false, ApicModeKind.X2Apic)]      // firmware chose x2APIC
        public void Mode_follows_cpuid_and_the_command_line(uint ecx, ulong apicBase, bool noX2Apic, ApicModeKind expected)
        {
            Assert.Equal(expected, ApicMode.Choose(ecx, apicBase, noX2Apic, out _));
        }

        [Fact]
        public void Firmware_x2apic_is_kept_even_with_nox2apic_and_says_so()
        {
            // Leaving x2APIC for xAPIC directly faults, and firmware may have locked it.
            Assert.Equal(ApicModeKind.X2Apic, ApicMode.Choose(WithX2Apic, X2Apic, noX2Apic: true, out string note));
            Assert.Contains("nox2apic ignored", note);
        }

        [Fact]
        public void Nox2apic_on_a_cpu_without_x2apic_needs_no_note()
        {
            Assert.Equal(ApicModeKind.XApic, ApicMode.Choose(WithoutX2Apic, XApic, noX2Apic: true, out string note));
            Assert.Null(note);
        }

        // Every state the firmware can leave, every mode: the writes must follow the SDM's
        // allowed transitions and end in the mode asked for, the address and BSP bit intact.
        [Theory]
        [InlineData(Disabled, ApicModeKind.XApic)]
        [InlineData(Disabled, ApicModeKind.X2Apic)]
        [InlineData(XApic, ApicModeKind.XApic)]
        [InlineData(XApic, ApicModeKind.X2Apic)]
        [InlineData(X2Apic, ApicModeKind.X2Apic)]
        public void Enable_steps_take_only_allowed_transitions(ulong current, ApicModeKind mode)
        {
            int n = ApicMode.EnableSteps(current, mode, out ulong first, out ulong second);
            Assert.InRange(n, 0, 2);
            var writes = new List<ulong>();
            if (n >= 1) writes.Add(first);
            if (n >= 2) writes.Add(second);

            ulong state = current;
            foreach (ulong w in writes)
            {
                Assert.True(Allowed(State(state), State(w)), $"0x{state:x} -> 0x{w:x} is not an allowed transition");
                Assert.Equal(current & ~(ApicMode.BaseEnable | ApicMode.BaseExtended), w & ~(ApicMode.BaseEnable | ApicMode.BaseExtended));
                state = w;
            }
            Assert.Equal(mode == ApicModeKind.X2Apic ? "x2apic" : "xapic", State(state));
        }

        static string State(ulong msr) => (msr & (ApicMode.BaseEnable | ApicMode.BaseExtended)) switch
        {
            0 => "disabled",
            ApicMode.BaseEnable => "xapic",
            ApicMode.BaseEnable | ApicMode.BaseExtended => "x2apic",
            _ => "invalid",
        };

        // Intel SDM vol. 3, figure "Local x2APIC State Transitions with IA32_APIC_BASE":
        // x2APIC is entered from xAPIC only, and left only by disabling.
        static bool Allowed(string from, string to) => (from, to) switch
        {
            (_, "invalid") => false,
            ("disabled", "xapic") or ("xapic", "x2apic") => true,
            ("xapic", "disabled") or ("x2apic", "disabled") => true,
            _ => from == to,
        };

        [Fact]
        public void X2apic_registers_are_msrs_at_0x800_plus_offset_over_16()
        {
            Assert.Equal(0x802u, ApicMode.MsrOf(0x20));    // ID
            Assert.Equal(0x80Bu, ApicMode.MsrOf(0xB0));    // EOI
            Assert.Equal(0x80Fu, ApicMode.MsrOf(0xF0));    // spurious vector
            Assert.Equal(0x830u, ApicMode.MsrOf(0x300));   // ICR (one 64-bit MSR)
            Assert.Equal(0x832u, ApicMode.MsrOf(0x320));   // LVT timer
        }

        [Fact]
        public void Ids_and_icr_destinations_are_encoded_per_mode()
        {
            Assert.Equal(3u, ApicMode.IdFromRegister(0x03000000, ApicModeKind.XApic));
            Assert.Equal(300u, ApicMode.IdFromRegister(300, ApicModeKind.X2Apic));
            Assert.Equal(0x05000000u, ApicMode.XApicIcrHigh(5));
            Assert.Equal(0x0000012C_000046ABul, ApicMode.X2ApicIcr(300, 0x46AB));
        }

        [Fact]
        public void Ids_above_255_need_x2apic()
        {
            Assert.True(ApicMode.CanAddress(255, ApicModeKind.XApic));
            Assert.False(ApicMode.CanAddress(256, ApicModeKind.XApic));
            Assert.True(ApicMode.CanAddress(256, ApicModeKind.X2Apic));
        }
    }
}
