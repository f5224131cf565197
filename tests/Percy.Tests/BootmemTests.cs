using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Percy.Kernel.Mm;
using Xunit;

namespace Percy.Tests;

public class BootmemTests
{
    const ulong Page = Bootmem.PageSize;
    const ulong MiB = 1 << 20;

    static Bootmem QemuLike()
    {
        var b = new Bootmem();
        Assert.Null(b.AddMemory(0, 0x9FC00));
        Assert.Null(b.AddMemory(MiB, 511 * MiB - 0x20000));
        Assert.Null(b.Reserve(0, MiB, "low memory"));
        Assert.Null(b.Reserve(MiB, 4 * MiB, "kernel"));
        return b;
    }

    [Fact]
    public void AllocatesTopDownBelowTheLimitAndAligned()
    {
        var b = QemuLike();
        ulong a = b.Alloc(3 * Page, 2 * MiB, 64 * MiB, "test");
        Assert.NotEqual(0ul, a);
        Assert.Equal(0ul, a % (2 * MiB));
        Assert.True(a + 3 * Page <= 64 * MiB);
        Assert.True(a >= 62 * MiB, "top-down: the highest fit below the limit");
        ulong c = b.Alloc(Page, Page, 64 * MiB, "test");
        Assert.True(c >= a + 3 * Page || c + Page <= a);
    }

    [Fact]
    public void NeverReturnsReservedMemory()
    {
        var b = QemuLike();
        ulong a = b.Alloc(Page, Page, 5 * MiB + Page, "test");
        Assert.Equal(5 * MiB, a);                            // the only free page below the limit
        Assert.Equal(0ul, b.Alloc(Page, Page, 5 * MiB + Page, "test"));
    }

    [Fact]
    public void FreeSplitsAReservation()
    {
        var b = QemuLike();
        ulong before = b.ReservedMemory();
        Assert.Null(b.Free(2 * MiB, Page));
        Assert.Equal(before - Page, b.ReservedMemory());
        Assert.Equal(2 * MiB, b.Alloc(Page, Page, 2 * MiB + Page, "again"));
        Assert.Equal(before, b.ReservedMemory());
    }

    [Fact]
    public void OverlappingReservationsAreCountedOnce()
    {
        var b = QemuLike();
        ulong before = b.ReservedMemory();
        Assert.Null(b.Reserve(4 * MiB, 2 * MiB, "overlaps kernel"));
        Assert.Equal(before + MiB, b.ReservedMemory());
    }

    [Theory]
    [InlineData(0ul, 0ul)]
    [InlineData(ulong.MaxValue - 10, 100ul)]
    [InlineData(1ul << 53, 4096ul)]
    public void RejectsAbsurdRanges(ulong start, ulong size)
    {
        var b = new Bootmem();
        Assert.NotNull(b.AddMemory(start, size));
        Assert.NotNull(b.Reserve(start, size, "x"));
        Assert.Equal(0, b.MemoryCount);
        Assert.Equal(0, b.ReservedCount);
    }

    [Fact]
    public void RefusesEverythingOnceRetired()
    {
        var b = QemuLike();
        b.Retire();
        Assert.Equal(0ul, b.Alloc(Page, Page, ulong.MaxValue, "late"));
        Assert.NotNull(b.Reserve(100 * MiB, Page, "late"));
        Assert.NotNull(b.Free(MiB, Page));
    }

    // Property: against a page-granular model, random reserve/alloc/free never hand out
    // a reserved or non-RAM page, honour alignment and limit, and free ranges plus
    // reserved RAM always add up to all RAM.
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void RandomOperationsAgreeWithAPageModel(int seed)
    {
        var random = new Random(seed);
        const int Pages = 4096;                               // 16 MiB of physical space
        var ram = new bool[Pages];
        var taken = new bool[Pages];
        var b = new Bootmem();
        for (int i = 0; i < 6; i++)
        {
            int start = random.Next(Pages - 64), len = random.Next(1, 600);
            len = Math.Min(len, Pages - start);
            Assert.Null(b.AddMemory((ulong)start * Page, (ulong)len * Page));
            for (int p = start; p < start + len; p++) ram[p] = true;
        }
        var live = new List<(ulong, ulong)>();
        for (int step = 0; step < 3000; step++)
        {
            int op = random.Next(3);
            if (op == 0 && b.ReservedCount < Bootmem.MaxRanges - 4)
            {
                int start = random.Next(Pages), len = Math.Min(random.Next(1, 40), Pages - start);
                Assert.Null(b.Reserve((ulong)start * Page, (ulong)len * Page, "r"));
                for (int p = start; p < start + len; p++) taken[p] = true;
            }
            else if (op == 1 && b.ReservedCount < Bootmem.MaxRanges - 4)
            {
                ulong align = Page << random.Next(4);
                ulong limit = (ulong)random.Next(1, Pages + 1) * Page;
                int pages = random.Next(1, 20);
                ulong a = b.Alloc((ulong)pages * Page, align, limit, "a");
                if (a == 0)
                {
                    // The model must agree nothing fits: no aligned run of free RAM below the limit.
                    for (ulong s = 0; s + (ulong)pages * Page <= limit; s += align)
                    {
                        bool fits = true;
                        for (int p = (int)(s / Page); p < (int)(s / Page) + pages; p++)
                            if (!ram[p] || taken[p]) { fits = false; break; }
                        Assert.False(fits, $"bootmem found nothing but {s:x} fits");
                    }
                    continue;
                }
                Assert.Equal(0ul, a % align);
                Assert.True(a + (ulong)pages * Page <= limit);
                for (int p = (int)(a / Page); p < (int)(a / Page) + pages; p++)
                {
                    Assert.True(ram[p] && !taken[p], $"page {p} handed out twice or not RAM");
                    taken[p] = true;
                }
                live.Add((a, (ulong)pages * Page));
            }
            else if (live.Count > 0 && b.ReservedCount < Bootmem.MaxRanges - 4)
            {
                int i = random.Next(live.Count);
                var (a, size) = live[i];
                live.RemoveAt(i);
                Assert.Null(b.Free(a, size));
                for (int p = (int)(a / Page); p < (int)((a + size) / Page); p++) taken[p] = false;
            }
            ulong modelReserved = 0, modelRam = 0;
            for (int p = 0; p < Pages; p++)
            {
                if (ram[p]) modelRam += Page;
                if (ram[p] && taken[p]) modelReserved += Page;
            }
            Assert.Equal(modelRam, b.TotalMemory());
            Assert.Equal(modelReserved, b.ReservedMemory());
        }
        // The free ranges are exactly the RAM pages not taken.
        var free = new bool[Pages];
        int cursor = 0;
        ulong address = 0;
        while (b.NextFreeRange(ref cursor, ref address, out ulong s, out ulong e))
            for (ulong p = s / Page; p < e / Page; p++)
            {
                Assert.False(free[p], "free range repeated");
                free[p] = true;
            }
        for (int p = 0; p < Pages; p++) Assert.Equal(ram[p] && !taken[p], free[p]);
    }
}
