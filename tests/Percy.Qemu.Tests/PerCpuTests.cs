using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// The static per-CPU variables on real CPUs: the first chunk's layout line, and the
/// `percpu` self-tests — each CPU reaching its own copy through the local window, every
/// copy holding its initial values, and seed 002's 16,800-byte array on every CPU.
/// </summary>
public class PerCpuTests
{
    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    public void Every_cpu_has_its_own_copy_of_the_static_section(int smp)
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = smp, Timeout = TimeSpan.FromSeconds(120) });
        var boot = m.WaitForBoot();
        Assert.Equal(smp, boot.CpusOnline);
        Assert.Contains(m.Lines, l => l.Text.Contains($"percpu: {smp} units, unit_vm=1048576, static=", StringComparison.Ordinal));

        var o = m.RunCommand("selftest percpu", TimeSpan.FromSeconds(120));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.True(doc.Totals.Pass >= 6, o.Text);
        Assert.Contains(o, l => l.Contains($"# {smp} copies of 16800 bytes checked", StringComparison.Ordinal));
        Assert.Contains(o, l => l.Contains($"# {smp} CPUs incremented their own copy", StringComparison.Ordinal));
    }
}
