using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// The in-kernel `modules` self-tests at -smp 8 (kernel/modules/ModuleTests.cs): per-CPU cost
/// of a module, bigarray's values in every CPU's copy, 100 load/unload cycles that leave the
/// per-CPU allocator, page allocator, heap and module area exactly as they were, a refcount
/// storm on seven CPUs against rmmod, and rmmod --wait.
/// </summary>
public class ModuleKtapTests
{
    [Fact]
    public void Module_selftests_pass_at_smp8()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 8, Timeout = TimeSpan.FromSeconds(180) });
        m.WaitForBoot();
        var o = m.RunCommand("selftest modules", TimeSpan.FromSeconds(150));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.Equal(0, doc.Totals.Skip);
        Assert.Equal(5, doc.Totals.Pass);
        Assert.Contains(o, l => l.Contains("# 7 CPUs: ", StringComparison.Ordinal));
        // bigarray's init checked its copies on every CPU, once per load.
        Assert.Contains(o, l => l.Contains("bigarray: bigarray[4200] (16800 bytes) written and checked on 8 CPUs", StringComparison.Ordinal));
    }
}
