using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// SMP bring-up across the CPU counts, chipsets and firmware of the matrix: every CPU the
/// firmware lists comes online, `cpus` shows each one, the `smp` self-tests (cross-CPU
/// calls on every CPU) pass, and `maxcpus=` leaves the rest offline.
/// </summary>
public class SmpTests
{
    // Each -smp value appears at least once; pc and q35, BIOS and UEFI each appear too.
    [Theory]
    [InlineData(1, QemuMachineType.Pc, false)]
    [InlineData(2, QemuMachineType.Q35, false)]
    [InlineData(4, QemuMachineType.Pc, true)]
    [InlineData(8, QemuMachineType.Q35, true)]
    [InlineData(16, QemuMachineType.Pc, false)]
    [InlineData(64, QemuMachineType.Q35, false)]
    public void Every_cpu_comes_online_and_runs_cross_cpu_calls(int smp, QemuMachineType machine, bool uefi)
    {
        using var m = QemuMachine.Start(new QemuOptions
        {
            Smp = smp,
            Machine = machine,
            Uefi = uefi,
            Timeout = TimeSpan.FromSeconds(uefi ? 180 : 120),
        });
        var boot = m.WaitForBoot();
        Assert.Equal(smp, boot.CpusOnline);
        Assert.Equal(smp, boot.CpusPossible);

        var rows = AssertCpuTable(m, smp);
        Assert.All(rows, r => Assert.Equal("online", r.Groups["state"].Value));
        Assert.Equal(smp, rows.Select(r => r.Groups["apic"].Value).Distinct().Count());
        Assert.Equal(smp, rows.Select(r => r.Groups["lo"].Value).Distinct().Count());

        var o = m.RunCommand("selftest smp", TimeSpan.FromSeconds(120));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.True(doc.Totals.Pass >= (smp > 1 ? 6 : 5), o.Text);
        if (smp > 1) Assert.Contains(o, l => l.Contains($"# {smp} CPUs ran the call", StringComparison.Ordinal));
    }

    [Fact]
    public void Maxcpus_limits_what_is_started()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 4, Cmdline = "maxcpus=2" });
        var boot = m.WaitForBoot();
        Assert.Equal(2, boot.CpusOnline);
        Assert.Equal(4, boot.CpusPossible);
        var rows = AssertCpuTable(m, 4);
        Assert.Equal(new[] { "online", "online", "offline", "offline" }, rows.Select(r => r.Groups["state"].Value));
    }

    // A CPU that never arrives (fault injection: no startup IPI) is logged, left out, and
    // boot goes on with the others.
    [Fact]
    public void A_cpu_that_never_arrives_is_logged_and_left_offline()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 4, Cmdline = "smp.skip_sipi=2" });
        var boot = m.WaitForBoot();
        Assert.Equal(3, boot.CpusOnline);
        Assert.Equal(4, boot.CpusPossible);
        Assert.Contains(m.Lines, l => Regex.IsMatch(l.Text, @"smp: warning: cpu 2 \(APIC id \d+\) did not come online within \d+ ms .*; left offline$"));
        var rows = AssertCpuTable(m, 4);
        Assert.Equal(new[] { "online", "online", "failed", "online" }, rows.Select(r => r.Groups["state"].Value));
        var o = m.RunCommand("selftest smp", TimeSpan.FromSeconds(120));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.Contains(o, l => l.Contains("# 3 CPUs ran the call", StringComparison.Ordinal));
    }

    static List<Match> AssertCpuTable(QemuMachine m, int possible) => KernelContract.AssertCpuTable(m, possible).Rows;
}
