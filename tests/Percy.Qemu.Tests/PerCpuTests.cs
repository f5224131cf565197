using System.Globalization;
using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// The static per-CPU variables on real CPUs: the first chunk's layout line, and the
/// `percpu` self-tests — each CPU reaching its own copy through the local window, every
/// copy holding its initial values, seed 002's 16,800-byte array on every CPU, Linux's
/// lib/percpu_test.c cases on every size — and the `percpu` command's view of the units.
/// </summary>
public class PerCpuTests
{
    const ulong PerCpuBase = 0xFFFFC80000000000;   // AddressSpace.PerCpuBase
    const int UnitStrideShift = 34;                // PerCpuLayout.UnitStride = 16 GiB
    static readonly Regex UnitRow = new(@"^\s*(?<cpu>\d+)\s+0x(?<base>[0-9a-f]{16})\s+(?<pages>\d+)$");
    static readonly Regex LayoutLine = new(@"percpu: (?<units>\d+) units, unit_vm=\d+, static=(?<static>\d+) reserved=0 dynamic=\d+, committed=(?<committed>\d+) pages/cpu");

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
        Assert.Contains(doc.Leaves(), t => t.Test.Name == "this_cpu_ops_every_size_on_every_cpu" && t.Test.Ok);
        Assert.Contains(doc.Leaves(), t => t.Test.Name == "isolation_all_cpus_write_at_once" && t.Test.Ok);

        // `percpu`: the layout line, then one row per CPU: its unit at PerCpuBase + cpu * 16 GiB,
        // with exactly the static section's pages mapped (nothing allocated dynamically yet).
        var p = m.RunCommand("percpu");
        var layout = LayoutLine.Match(p.Text);
        Assert.True(layout.Success, p.Text);
        Assert.Equal(smp, int.Parse(layout.Groups["units"].Value, CultureInfo.InvariantCulture));
        int staticBytes = int.Parse(layout.Groups["static"].Value, CultureInfo.InvariantCulture);
        int committed = int.Parse(layout.Groups["committed"].Value, CultureInfo.InvariantCulture);
        Assert.Equal((staticBytes + 4095) / 4096, committed);
        var rows = p.Select(l => UnitRow.Match(l)).Where(r => r.Success).ToList();
        Assert.Equal(Enumerable.Range(0, smp), rows.Select(r => int.Parse(r.Groups["cpu"].Value, CultureInfo.InvariantCulture)));
        foreach (var r in rows)
        {
            ulong cpu = ulong.Parse(r.Groups["cpu"].Value, CultureInfo.InvariantCulture);
            Assert.Equal(PerCpuBase + (cpu << UnitStrideShift), ulong.Parse(r.Groups["base"].Value, NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            Assert.Equal(committed, int.Parse(r.Groups["pages"].Value, CultureInfo.InvariantCulture));
        }
    }
}
