using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// Readiness for physical machines (issue 8): the image boots on several CPU models, with
/// the x2APIC feature flag on and off, on both chipsets, under SeaBIOS and OVMF, and from a
/// USB stick as well as from a CD. A covering matrix, not every combination: each value
/// appears, with both firmwares and both chipsets, and some rows have more than one CPU.
/// <para>
/// Each boot must reach <c>percy: ready cpus=N possible=N</c> and the shell must list N
/// online CPUs. The APIC mode the kernel reports must be the one the guest's CPUID offers:
/// x2APIC when the flag reached the guest, xAPIC when it did not. QEMU 7.2's TCG has no
/// x2APIC: it drops "+x2apic" (and the flag of models that have it, like Skylake-Server)
/// with a warning on stderr, so under TCG every row runs in xAPIC mode; what the
/// kernel does when CPUID does offer x2APIC is tested on the host (ApicModeTests).
/// </para>
/// </summary>
public class HardwareMatrixTests
{
    public const string Qemu64 = "qemu64";
    public const string SkylakeServer = "Skylake-Server";
    public const string Epyc = "EPYC";

    // QEMU's words when TCG cannot give the guest the x2APIC flag (target/i386/cpu.c).
    const string X2ApicDroppedWarning = "TCG doesn't support requested feature: CPUID.01H:ECX.x2apic";

    // Models whose own feature list has x2APIC (QEMU 7.2's builtin_x86_defs: Skylake-Server
    // does, EPYC and qemu64 do not; under KVM, QEMU adds it to every model by default).
    static readonly HashSet<string> ModelsWithX2Apic = new(StringComparer.Ordinal) { SkylakeServer };

    static readonly Regex ApicLine = new(@"^apic: (?<mode>xAPIC|x2APIC) mode, ", RegexOptions.CultureInvariant);

    // OVMF alone takes ~4 s under TCG on an idle host; both get room for a loaded one.
    static readonly TimeSpan BiosTimeout = TimeSpan.FromSeconds(90);
    static readonly TimeSpan UefiTimeout = TimeSpan.FromSeconds(180);

    // Every model with x2APIC on and off (null: the model's own flag, as a plain
    // `-cpu Skylake-Server` gives it: on for Skylake-Server, off for EPYC); each model on
    // pc and q35, under BIOS and UEFI.
    [Theory]
    [InlineData(Qemu64, false, QemuMachineType.Pc, false, 1)]
    [InlineData(Qemu64, true, QemuMachineType.Q35, true, 4)]
    [InlineData(SkylakeServer, null, QemuMachineType.Pc, false, 4)]
    [InlineData(SkylakeServer, false, QemuMachineType.Q35, true, 2)]
    [InlineData(Epyc, true, QemuMachineType.Q35, false, 2)]
    [InlineData(Epyc, null, QemuMachineType.Pc, true, 4)]
    public void Cpu_model_boots_with_every_cpu_online(string model, bool? x2apic, QemuMachineType machine, bool uefi, int smp)
    {
        using var m = QemuMachine.Start(new QemuOptions
        {
            CpuModel = model,
            X2Apic = x2apic,
            Machine = machine,
            Uefi = uefi,
            Smp = smp,
            Timeout = uefi ? UefiTimeout : BiosTimeout,
        });
        var mode = AssertBootsWithEveryCpu(m, smp);

        // Asked for x2APIC: the guest has it unless QEMU said it dropped it.
        bool requested = x2apic ?? ModelsWithX2Apic.Contains(model);
        bool dropped = m.StandardError.Contains(X2ApicDroppedWarning, StringComparison.Ordinal);
        Assert.False(!requested && dropped, $"QEMU dropped an x2APIC flag that was not asked for:\n{m.StandardError}");
        Assert.Equal(requested && !dropped ? "x2APIC" : "xAPIC", mode);
    }

    // A CPU without NX, as firmware with "Execute Disable Bit: disabled" presents an Intel
    // CPU: EFER.NXE would be a #GP and page-table bit 63 a reserved bit. The kernel says so
    // once, boots, and its memory self-tests pass, the NX ones skipped.
    [Fact]
    public void Cpu_without_nx_boots_with_a_warning()
    {
        const int smp = 2;
        using var m = QemuMachine.Start(new QemuOptions { CpuModel = Qemu64 + ",-nx", Smp = smp, Timeout = BiosTimeout });
        AssertBootsWithEveryCpu(m, smp);
        Assert.Single(m.Lines, l => l.Text.EndsWith(NoNxWarning, StringComparison.Ordinal));

        var o = m.RunCommand("selftest mm", TimeSpan.FromSeconds(60));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.Contains(o, l => l.Contains("data_is_not_executable # SKIP the CPU offers no NX", StringComparison.Ordinal));
    }

    const string NoNxWarning = "paging: warning: the CPU offers no NX (execute disable off in the firmware?); data pages stay executable";

    // Machines without a working PIT: recent Intel boards can gate the 8254's clock, and
    // legacy-free ones have none. QEMU's "pit=off" leaves ports 0x42/0x61 unanswered, as
    // such a machine does. The kernel must notice (the PIT-timed TSC rate is nonsense) and
    // take the rate from the HPET, or with no HPET either assume one too high rather than
    // too low (timeouts then last longer, never shorter); either way every CPU comes up.
    [Theory]
    [InlineData(QemuMachineType.Pc, false, "pit=off", ClockFromHpet, 2)]
    [InlineData(QemuMachineType.Q35, true, "pit=off,hpet=off", ClockAssumed, 4)]
    public void Machine_without_a_pit_times_the_tsc_another_way(QemuMachineType machine, bool uefi, string machineProperties, string expectedClockLine, int smp)
    {
        using var m = QemuMachine.Start(new QemuOptions
        {
            Machine = machine,
            Uefi = uefi,
            Smp = smp,
            Timeout = uefi ? UefiTimeout : BiosTimeout,
            ExtraArgs = new[] { "-machine", machineProperties }, // merged into -M's properties
        });
        AssertBootsWithEveryCpu(m, smp);
        Assert.Single(m.Lines, l => l.Text.Contains(NoPitWarning, StringComparison.Ordinal));
        Assert.Single(m.Lines, l => l.Text.Contains(expectedClockLine, StringComparison.Ordinal));
    }

    const string NoPitWarning = "clock: warning: the PIT gives an implausible TSC rate (no PIT?)";
    const string ClockFromHpet = "clock: TSC measured against the HPET: ";
    const string ClockAssumed = "clock: warning: no HPET to measure the TSC; it stays at 5000 MHz (assumed)";

    // The ISO written raw to a USB stick (what `dd` makes), on each controller, chipset
    // and firmware: SeaBIOS boots its MBR, OVMF its EFI system partition.
    [Theory]
    [InlineData(UsbController.Xhci, QemuMachineType.Pc, false, 2)]
    [InlineData(UsbController.Xhci, QemuMachineType.Q35, true, 4)]
    [InlineData(UsbController.Ehci, QemuMachineType.Q35, false, 1)]
    [InlineData(UsbController.Ehci, QemuMachineType.Pc, true, 2)]
    public void Usb_stick_boots_to_the_prompt(UsbController controller, QemuMachineType machine, bool uefi, int smp)
    {
        using var m = QemuMachine.Start(new QemuOptions
        {
            Medium = BootMedium.UsbStick,
            UsbController = controller,
            Machine = machine,
            Uefi = uefi,
            Smp = smp,
            Timeout = uefi ? UefiTimeout : BiosTimeout,
        });
        Assert.DoesNotContain("-cdrom", m.CommandLine);
        AssertBootsWithEveryCpu(m, smp);
    }

    /// <summary>
    /// Asserts the boot reached the ready line with <paramref name="smp"/> CPUs online and
    /// possible, that `cpus` lists them all online, and that the boot log and `cpus` agree on
    /// the APIC mode, which is returned ("xAPIC" or "x2APIC").
    /// </summary>
    static string AssertBootsWithEveryCpu(QemuMachine m, int smp)
    {
        var boot = m.WaitForBoot();
        KernelContract.AssertGoodBoot(m, boot, expectedCpus: smp);
        Assert.True(boot.CpusPossible == smp, $"ready line reports possible={boot.CpusPossible}, QEMU has -smp {smp}: {boot.Ready.Text}");

        var apic = boot.Log.Select(l => ApicLine.Match(l.Message)).FirstOrDefault(x => x.Success);
        Assert.True(apic is not null, $"no 'apic: ... mode' line in the boot log\n{m.Tail()}");

        var (summary, rows) = KernelContract.AssertCpuTable(m, smp);
        Assert.Equal(smp.ToString(), summary.Groups["online"].Value);
        Assert.Equal(smp.ToString(), summary.Groups["possible"].Value);
        Assert.Equal(apic!.Groups["mode"].Value, summary.Groups["mode"].Value);
        Assert.All(rows, r => Assert.Equal("online", r.Groups["state"].Value));
        return summary.Groups["mode"].Value;
    }
}
