using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// The dynamic per-CPU allocator on real CPUs: the `percpu_alloc` self-tests, the shell's
/// `percpu alloc/free/bench/stats`, and bad requests from the shell that must leave the
/// statistics exactly as they were.
/// </summary>
public class PerCpuAllocTests
{
    static readonly Regex StatsLine = new(@"^percpu: allocs=\d+ frees=\d+ live=(?<live>\d+) live_bytes=(?<bytes>\d+) max_live_bytes=\d+ chunks=\d+ populated_pages_per_cpu=\d+ static_bytes=\d+ reserved_bytes=0 unit_vm=1048576$");
    static readonly Regex BenchLine = new(@"^percpu-bench: n=10000 alloc_ns=(?<alloc>\d+) free_ns=(?<free>\d+)$");

    static string Stats(QemuMachine m)
    {
        var o = m.RunCommand("percpu stats");
        string line = Assert.Single(o, l => l.StartsWith("percpu: allocs=", StringComparison.Ordinal));
        Assert.Matches(StatsLine, line);
        return line;
    }

    [Fact]
    public void Selftests_pass_and_bad_requests_change_nothing_at_smp4()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 4, Timeout = TimeSpan.FromSeconds(120) });
        m.WaitForBoot();

        var o = m.RunCommand("selftest percpu_alloc", TimeSpan.FromSeconds(120));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.Equal(6, doc.Totals.Pass);

        string before = Stats(m);
        foreach (var (command, reason) in new[]
        {
            ("percpu alloc 0", "size is zero"),
            ("percpu alloc 99999999999", "size is larger than the largest per-CPU allocation"),
            ("percpu alloc 8 3", "alignment is not a power of two"),
            ("percpu free 0x10", "handle is in the static per-CPU part"),
            ("percpu free 0x3fffffffc", "handle is outside every per-CPU chunk"),
        })
        {
            var r = m.RunCommand(command);
            Assert.Single(r, l => l.EndsWith(reason, StringComparison.Ordinal));
            Assert.Equal(before, Stats(m));
        }
        foreach (var command in new[] { "percpu alloc x", "percpu free", "percpu frob", "percpu bench 0" })
        {
            var r = m.RunCommand(command);
            Assert.Single(r, l => l.StartsWith("percpu: error: ", StringComparison.Ordinal));
            Assert.Equal(before, Stats(m));
        }

        // A real area, a double free, and the statistics back where they were.
        var a = m.RunCommand("percpu alloc 24");
        var handle = Regex.Match(a.Text, @"allocated (0x[0-9a-f]+)").Groups[1].Value;
        Assert.NotEmpty(handle);
        Assert.Contains(m.RunCommand($"percpu free {handle}"), l => l == $"percpu: freed {handle}");
        Assert.Single(m.RunCommand($"percpu free {handle}"), l => l.EndsWith("double free: the allocation at this handle was already freed", StringComparison.Ordinal));

        var bench = m.RunCommand("percpu bench 10000", TimeSpan.FromSeconds(120));
        Assert.Single(bench, l => BenchLine.IsMatch(l));
        var after = StatsLine.Match(Stats(m));
        var start = StatsLine.Match(before);
        Assert.Equal(start.Groups["live"].Value, after.Groups["live"].Value);
        Assert.Equal(start.Groups["bytes"].Value, after.Groups["bytes"].Value);
    }
}
