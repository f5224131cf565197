using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>Boots under each firmware and machine type, the plain user command, and a custom command line.</summary>
public class BootTests
{
    [Theory]
    [InlineData(false, QemuMachineType.Pc)]
    [InlineData(false, QemuMachineType.Q35)]
    [InlineData(true, QemuMachineType.Pc)]
    [InlineData(true, QemuMachineType.Q35)]
    public void Boots_to_the_prompt(bool uefi, QemuMachineType machine)
    {
        // OVMF takes ~4 s to reach the kernel under TCG; give UEFI boots more room.
        using var m = QemuMachine.Start(new QemuOptions
        {
            Uefi = uefi,
            Machine = machine,
            Smp = 2,
            Timeout = TimeSpan.FromSeconds(uefi ? 120 : 60),
        });
        var boot = m.WaitForBoot();
        KernelContract.AssertGoodBoot(m, boot, expectedCpus: 2);
        KernelContract.AssertVersion(m, boot);
    }

    /// <summary>`qemu-system-x86_64 -cdrom percy.iso -m 512M -nographic`, nothing more (no debug-exit device).</summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Plain_qemu_command_reaches_the_prompt(bool uefi)
    {
        using var m = QemuMachine.Start(QemuOptions.Plain(uefi) with { Timeout = TimeSpan.FromSeconds(uefi ? 120 : 60) });
        Assert.DoesNotContain("isa-debug-exit", m.CommandLine);
        Assert.DoesNotContain("-no-reboot", m.CommandLine);
        var boot = m.WaitForBoot();
        KernelContract.AssertGoodBoot(m, boot, expectedCpus: null);
        KernelContract.AssertVersion(m, boot);
    }

    [Fact]
    public void Custom_kernel_command_line_is_shown_by_cmdline()
    {
        using var m = QemuMachine.Start(new QemuOptions { Cmdline = "foo=bar quiet=0" });
        m.WaitForBoot();
        var c = m.RunCommand("cmdline");
        Assert.True(c.Count == 1, $"cmdline printed {c.Count} lines:\n{c.Text}");
        Assert.Equal("foo=bar quiet=0", c[0].Trim());
    }

    // Bad input on the kernel command line: each malformed token gets one warning line
    // and is ignored; the well-formed options around it still apply; boot goes on.
    [Fact]
    public void Malformed_command_line_tokens_are_reported_and_ignored()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 4, Cmdline = "=x maxcpus=2 percpu.unit_vm=3K" });
        var boot = m.WaitForBoot();
        Assert.Equal(2, boot.CpusOnline);
        Assert.Equal(4, boot.CpusPossible);
        Assert.Single(m.Lines, l => l.Text.EndsWith("percy: warning: command line at byte 0: empty key; ignored", StringComparison.Ordinal));
        Assert.Single(m.Lines, l => l.Text.EndsWith("percpu: warning: unit_vm is not a power of two; the defaults are used", StringComparison.Ordinal));
        Assert.Contains(m.Lines, l => l.Text.Contains("percpu: 4 units, unit_vm=1048576,", StringComparison.Ordinal));
    }
}
