using System.Globalization;
using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// Physical memory, booted at three sizes: what `mem` reports must add up to the
/// firmware's map minus the kernel's own reservations, memory above 4 GiB must be used,
/// the `mm` self-tests (W^X, guard pages, allocators) must pass, and too little memory
/// must end in the one-line panic, not a triple fault.
/// </summary>
public class MemoryTests
{
    static readonly Regex Accounting = new(
        @"^accounting: map_usable=(?<map>\d+) bootmem=(?<bootmem>\d+) managed=(?<managed>\d+) reserved=(?<reserved>\d+) partial=(?<partial>\d+) KiB$");
    static readonly Regex Pages = new(@"^pages: managed=(?<managed>\d+) free=(?<free>\d+) used=(?<used>\d+) ");
    static readonly Regex Released = new(@"bootmem: released (?<pages>\d+) pages to the page allocator, (?<reserved>\d+) pages reserved$");

    static long Get(Match m, string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    static Match Find(CommandOutput o, Regex r)
    {
        foreach (var line in o)
        {
            var m = r.Match(line);
            if (m.Success) return m;
        }
        Assert.Fail($"`{o.Command}` printed no line matching {r}:\n{o.Text}");
        return null!;
    }

    [Theory]
    [InlineData(64)]
    [InlineData(512)]
    [InlineData(4096)]
    public void Free_memory_matches_the_map_within_the_kernels_reservations(int memoryMb)
    {
        using var m = QemuMachine.Start(new QemuOptions { MemoryMb = memoryMb, Smp = 2 });
        m.WaitForBoot();
        var mem = m.RunCommand("mem", TimeSpan.FromSeconds(30));
        var a = Find(mem, Accounting);
        long map = Get(a, "map"), bootmem = Get(a, "bootmem"), managed = Get(a, "managed"), reserved = Get(a, "reserved"), partial = Get(a, "partial");

        // bootmem takes the map's usable regions in whole pages: at most a page lost per region.
        Assert.InRange(map - bootmem, 0, 4 * 16);
        // Every usable byte is the page allocator's or reserved (KiB rounding: a few KiB).
        Assert.InRange(bootmem - managed - reserved - partial, -3, 3);
        // What is neither lies in partly reserved pages: less than a page per reservation.
        Assert.InRange(partial, 0, 4 * 64);
        // The kernel's own reservations are small next to the machine: image, tables, metadata.
        Assert.True(reserved < 4096 + bootmem / 100, $"reserved {reserved} KiB of {bootmem} KiB\n{mem.Text}");

        var p = Find(mem, Pages);
        Assert.Equal(managed, Get(p, "managed") * 4);
        Assert.Equal(Get(p, "managed"), Get(p, "free") + Get(p, "used"));
        Assert.True(Get(p, "free") > Get(p, "managed") * 9 / 10, $"most pages should be free after boot\n{mem.Text}");

        // The hand-over line counted the same pages.
        var released = m.Lines.Select(l => Released.Match(l.Text)).First(x => x.Success);
        Assert.Equal(Get(p, "managed"), Get(released, "pages"));

        if (memoryMb > 4096 - 1024)
            Assert.True(managed > (memoryMb - 1024L) * 1024, $"memory above 4 GiB is not used: {managed} KiB managed of {memoryMb} MiB\n{mem.Text}");
    }

    [Fact]
    public void Mm_selftests_prove_W_xor_X_and_guard_pages()
    {
        using var m = QemuMachine.Start(new QemuOptions { Smp = 2 });
        m.WaitForBoot();
        var o = m.RunCommand("selftest mm", TimeSpan.FromSeconds(120));
        Assert.True(Ktap.TryParse(o.ToList(), out var doc, out var error), $"not KTAP: {error?.Message}\n{o.Text}");
        Assert.Equal(0, doc!.Totals!.Fail);
        Assert.True(doc.Totals.Pass >= 10, o.Text);
        // The write to kernel text was reported as a write-protection fault.
        Assert.Contains(o, l => Regex.IsMatch(l, @"# fault at ffffffff8[0-9a-f]{7}: error 0x3 \(write, protection\)"));
        Assert.Contains(o, l => l.Contains("(fetch, protection)", StringComparison.Ordinal));
    }

    [Fact]
    public void Too_little_memory_panics_with_one_line_and_exits()
    {
        using var m = QemuMachine.Start(new QemuOptions { MemoryMb = 8, Smp = 1 });
        var line = m.WaitFor(new Regex(@"^panic: not enough memory: need \d+ KiB, have \d+ KiB$"), TimeSpan.FromSeconds(60));
        Assert.NotNull(line);
        Assert.Equal(KernelContract.PanicExitCode, m.WaitForExit(TimeSpan.FromSeconds(30)));
        Assert.DoesNotContain(m.Lines, l => l.Text.Contains("percy: ready", StringComparison.Ordinal));
    }
}
