using System.Collections.Generic;
using Percy.Kernel.Mm;
using Percy.Kernel.Modules;
using Xunit;

namespace Percy.Tests;

// The module area's virtual-range allocator (kernel/modules/ModuleArea.cs): first fit over
// the images in use, one unmapped guard page after each, a fixed number of images, and
// every failure a reason that leaves the area as it was.
public class ModuleAreaTests
{
    const ulong Page = AddressSpace.PageSize;
    // A small area (at the real base) where "full" is reached in a few calls.
    const ulong Base = AddressSpace.ModulesBase;
    const int SmallAreaPages = 16;
    const ulong SmallEnd = Base + SmallAreaPages * Page;

    static ModuleArea Small() => new(Base, SmallEnd, Page);

    static ulong Allocate(ModuleArea area, ulong size)
    {
        string error = area.TryAllocate(size, out ulong address);
        Assert.True(error == null, $"{size} bytes: {error}");
        return address;
    }

    static void Refused(ModuleArea area, ulong size, string reason)
    {
        int count = area.Count;
        ulong reserved = area.BytesReserved;
        Assert.Equal(reason, area.TryAllocate(size, out ulong address));
        Assert.Equal(0ul, address);
        Assert.Equal(count, area.Count);
        Assert.Equal(reserved, area.BytesReserved);
    }

    [Fact]
    public void ImagesFollowEachOtherWithOneGuardPageBetween()
    {
        var area = Small();
        ulong a = Allocate(area, 2 * Page);
        ulong b = Allocate(area, Page);
        ulong c = Allocate(area, 3 * Page);
        Assert.Equal(Base, a);
        Assert.Equal(a + 2 * Page + Page, b);        // a's 2 pages, then its guard page
        Assert.Equal(b + Page + Page, c);
        Assert.Equal(3, area.Count);
        Assert.Equal((2 + 1 + 1 + 1 + 3 + 1) * Page, area.BytesReserved);
    }

    [Fact]
    public void FirstFitTakesTheLowestHoleThatIsLargeEnough()
    {
        var area = Small();
        // In pages from the base, guard pages included:
        ulong a = Allocate(area, Page);              // [0, 2)
        Allocate(area, Page);                        // [2, 4) stays, so the holes stay apart
        ulong b = Allocate(area, 3 * Page);          // [4, 8)
        ulong c = Allocate(area, Page);              // [8, 10)
        Assert.True(area.Free(b));                   // a hole of 4 pages (3 + guard)
        Assert.True(area.Free(a));                   // a hole of 2 pages at the bottom

        // Too big for the bottom hole (1 page + guard): lands in b's hole.
        ulong d = Allocate(area, 2 * Page);
        Assert.Equal(b, d);
        // Fits the bottom hole exactly.
        ulong e = Allocate(area, Page);
        Assert.Equal(Base, e);
        // The one page left of b's hole is too small for a page and its guard: after c.
        ulong f = Allocate(area, Page);
        Assert.Equal(c + 2 * Page, f);
    }

    [Fact]
    public void AFreedRangeIsReusedAndTheTotalsReturn()
    {
        var area = Small();
        ulong a = Allocate(area, 4 * Page);
        for (int cycle = 0; cycle < 100; cycle++)
        {
            ulong b = Allocate(area, 2 * Page);
            Assert.Equal(a + 5 * Page, b);           // always the same place
            Assert.True(area.Free(b));
        }
        Assert.Equal(1, area.Count);
        Assert.Equal(5 * Page, area.BytesReserved);
        Assert.True(area.Free(a));
        Assert.Equal(0, area.Count);
        Assert.Equal(0ul, area.BytesReserved);
        Assert.Equal(Base, Allocate(area, (SmallAreaPages - 1) * Page));   // all of it again
    }

    [Fact]
    public void AFullAreaRefusesAndFreeingMakesRoom()
    {
        var area = Small();
        // The largest image: the area less its guard page.
        Refused(area, SmallAreaPages * Page, "image is larger than the module area");
        ulong all = Allocate(area, (SmallAreaPages - 1) * Page);
        Refused(area, Page, "the module area is full");
        Assert.True(area.Free(all));

        // Fill it with 1-page images (8 of them: 2 pages each with the guard).
        var images = new List<ulong>();
        for (int i = 0; i < SmallAreaPages / 2; i++) images.Add(Allocate(area, Page));
        Refused(area, Page, "the module area is full");
        Assert.True(area.Free(images[3]));
        Assert.Equal(images[3], Allocate(area, Page));
        // A hole of 2 pages holds one page plus its guard, not two pages.
        Assert.True(area.Free(images[5]));
        Refused(area, 2 * Page, "the module area is full");
    }

    [Fact]
    public void SizesMustBeWholePagesAndNotZero()
    {
        var area = Small();
        const string notPages = "image size is not a whole number of pages";
        Refused(area, 0, notPages);
        Refused(area, 1, notPages);
        Refused(area, Page + 8, notPages);
        Refused(area, ulong.MaxValue, notPages);
        Refused(area, ulong.MaxValue & ~(Page - 1), "image is larger than the module area");
    }

    [Fact]
    public void AtMostMaxImagesAtOnce()
    {
        // The real area: room for many more 1-page images than MaxImages.
        var area = new ModuleArea(AddressSpace.ModulesBase, AddressSpace.ModulesEnd, Page);
        ulong last = 0;
        for (int i = 0; i < ModuleArea.MaxImages; i++) last = Allocate(area, Page);
        Assert.Equal(Base + (ulong)(ModuleArea.MaxImages - 1) * 2 * Page, last);
        Refused(area, Page, "too many modules loaded");
        Assert.True(area.Free(Base));
        Assert.Equal(Base, Allocate(area, Page));
        Assert.Equal(ModuleArea.MaxImages, area.Count);
    }

    [Fact]
    public void FreeOfAnAddressItDidNotHandOutChangesNothing()
    {
        var area = Small();
        ulong a = Allocate(area, 2 * Page);
        ulong b = Allocate(area, Page);
        foreach (ulong bogus in new[] { 0ul, a + Page, a + 2 * Page, b + 8, SmallEnd, ulong.MaxValue })
        {
            Assert.False(area.Free(bogus));
            Assert.Equal(2, area.Count);
            Assert.Equal(5 * Page, area.BytesReserved);
        }
        Assert.True(area.Free(a));
        Assert.False(area.Free(a));                  // a second free of the same image
        Assert.Equal(1, area.Count);
        Assert.True(area.Free(b));
        Assert.False(area.Free(b));
        Assert.Equal(0, area.Count);
    }
}
