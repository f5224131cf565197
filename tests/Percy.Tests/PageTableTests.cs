using System;
using System.Runtime.InteropServices;
using Percy.Kernel.Mm;
using Xunit;

namespace Percy.Tests;

// Real x86-64 page tables, built by the kernel's code inside a buffer that stands for
// physical memory, then walked back.
public unsafe class PageTableTests : IDisposable
{
    const ulong Page = AddressSpace.PageSize;
    const ulong FakePhysicalBase = 0x40000000;                 // where the buffer "is" physically
    const int Pages = 256;

    static byte* s_memory;
    static int s_next, s_limit;

    public PageTableTests()
    {
        s_memory = (byte*)NativeMemory.AlignedAlloc(Pages * (nuint)Page, (nuint)Page);
        s_next = 0;
        s_limit = Pages;
    }

    public void Dispose() => NativeMemory.AlignedFree(s_memory);

    static ulong AllocateTable()
    {
        if (s_next == s_limit) return PageTable.NoTable;
        byte* p = s_memory + (ulong)s_next++ * Page;
        new Span<byte>(p, (int)Page).Clear();
        return FakePhysicalBase + (ulong)(p - s_memory);
    }

    static PageTable NewTable()
    {
        var t = new PageTable { PhysToVirt = (ulong)s_memory - FakePhysicalBase, AllocateTable = &AllocateTable };
        t.Root = AllocateTable();
        return t;
    }

    [Fact]
    public void MapsAndTranslatesSmallPages()
    {
        var t = NewTable();
        ulong virt = AddressSpace.VmapBase + 0x5000;
        Assert.Null(t.Map(virt, 0x1234000, 3 * Page, Page, PageFlags.KernelReadWrite));
        Assert.True(t.Translate(virt + Page + 0x77, out ulong phys, out ulong flags));
        Assert.Equal(0x1235077ul, phys);
        Assert.Equal(PageFlags.NoExecute | PageFlags.Writable | PageFlags.Present, flags & (PageFlags.NoExecute | PageFlags.Writable | PageFlags.Present));
        Assert.False(t.Translate(virt + 3 * Page, out _, out _));
        Assert.Equal(3ul, t.TablesAllocated);                   // PDPT, PD, PT below the root
    }

    // A CPU without NX (or with it turned off in the firmware): bit 63 would be a reserved
    // bit, so no leaf may carry it, whether mapped or re-protected, small or large.
    [Fact]
    public void UnsupportedFlagsNeverReachALeaf()
    {
        var t = NewTable();
        t.UnsupportedFlags = PageFlags.NoExecute;
        ulong small = AddressSpace.VmapBase, large = AddressSpace.VmapBase + AddressSpace.LargePageSize;
        Assert.Null(t.Map(small, 0x1234000, Page, Page, PageFlags.KernelReadWrite));
        Assert.Null(t.Map(large, 0x40000000, AddressSpace.LargePageSize, AddressSpace.LargePageSize, PageFlags.KernelRead));
        Assert.Equal(1ul, t.Protect(small, Page, PageFlags.KernelRead));
        foreach (ulong v in new[] { small, large })
        {
            Assert.True(t.Translate(v, out _, out ulong flags));
            Assert.Equal(0ul, flags & PageFlags.NoExecute);
            Assert.Equal(PageFlags.Present, flags & PageFlags.Present);
        }
    }

    [Fact]
    public void LargeAndHugePagesAreLeavesHigherUp()
    {
        var t = NewTable();
        Assert.Null(t.Map(AddressSpace.DirectMapBase, 0, AddressSpace.HugePageSize, AddressSpace.HugePageSize, PageFlags.KernelReadWrite));
        Assert.Null(t.Map(AddressSpace.DirectMapBase + AddressSpace.HugePageSize, AddressSpace.HugePageSize,
                          AddressSpace.LargePageSize, AddressSpace.LargePageSize, PageFlags.KernelReadWrite));
        Assert.NotEqual(IntPtr.Zero, (IntPtr)t.Walk(AddressSpace.DirectMapBase + 12345, out int level));
        Assert.Equal(2, level);
        t.Walk(AddressSpace.DirectMapBase + AddressSpace.HugePageSize + 5, out level);
        Assert.Equal(1, level);
        Assert.True(t.Translate(AddressSpace.DirectMapBase + AddressSpace.HugePageSize + 0x1FFFFF, out ulong phys, out _));
        Assert.Equal(AddressSpace.HugePageSize + 0x1FFFFF, phys);
    }

    [Fact]
    public void MapLargestUsesTheFewestTables()
    {
        var t = NewTable();
        // From 4 KiB below a 2 MiB boundary to 4 KiB above the one two large pages later.
        ulong start = AddressSpace.LargePageSize - Page, size = 2 * AddressSpace.LargePageSize + 2 * Page;
        Assert.Null(t.MapLargest(AddressSpace.DirectMapBase + start, start, size, PageFlags.KernelReadWrite, false));
        t.Walk(AddressSpace.DirectMapBase + start, out int first);
        t.Walk(AddressSpace.DirectMapBase + AddressSpace.LargePageSize, out int middle);
        t.Walk(AddressSpace.DirectMapBase + start + size - Page, out int last);
        Assert.Equal((0, 1, 0), (first, middle, last));
        for (ulong off = 0; off < size; off += Page)
        {
            Assert.True(t.Translate(AddressSpace.DirectMapBase + start + off, out ulong phys, out _));
            Assert.Equal(start + off, phys);
        }
    }

    [Theory]
    [InlineData(0x1000ul, 0x1000ul, 0x1000ul, 0x3000ul, "unsupported page size")]
    [InlineData(0x1001ul, 0x1000ul, 0x1000ul, 0x1000ul, "address or size not aligned to the page size")]
    [InlineData(0x200000ul, 0x1000ul, 0x200000ul, 0x200000ul, "address or size not aligned to the page size")]
    [InlineData(0x1000ul, 0x1000ul, 0ul, 0x1000ul, "empty range")]
    public void RejectsBadRequests(ulong virtOffset, ulong phys, ulong size, ulong pageSize, string error)
    {
        var t = NewTable();
        Assert.Equal(error, t.Map(AddressSpace.VmapBase + virtOffset, phys, size, pageSize, PageFlags.KernelRead));
        Assert.Equal(0ul, t.TablesAllocated);
    }

    [Fact]
    public void NeverOverwritesAnExistingMapping()
    {
        var t = NewTable();
        ulong v = AddressSpace.VmapBase;
        Assert.Null(t.Map(v, 0x5000, Page, Page, PageFlags.KernelRead));
        Assert.Equal("range is already mapped", t.Map(v, 0x9000, Page, Page, PageFlags.KernelReadWrite));
        Assert.True(t.Translate(v, out ulong phys, out _));
        Assert.Equal(0x5000ul, phys);
        Assert.Null(t.Map(v + AddressSpace.LargePageSize * 4, 0, AddressSpace.LargePageSize, AddressSpace.LargePageSize, PageFlags.KernelRead));
        Assert.Equal("range overlaps a large page", t.Map(v + AddressSpace.LargePageSize * 4 + Page, 0, Page, Page, PageFlags.KernelRead));
    }

    [Fact]
    public void ReportsRunningOutOfTablePages()
    {
        var t = NewTable();
        s_limit = s_next + 2;                                    // room for a PDPT and a PD, not a PT
        Assert.Equal("out of memory for page tables", t.Map(AddressSpace.VmapBase, 0, Page, Page, PageFlags.KernelRead));
        Assert.False(t.Translate(AddressSpace.VmapBase, out _, out _));
    }

    [Fact]
    public void UnmapRemovesOnlySmallPages()
    {
        var t = NewTable();
        ulong v = AddressSpace.VmapBase;
        Assert.Null(t.Map(v, 0x7000, 4 * Page, Page, PageFlags.KernelReadWrite));
        Assert.Equal(2ul, t.Unmap(v + Page, 2 * Page));
        Assert.True(t.Translate(v, out _, out _));
        Assert.False(t.Translate(v + Page, out _, out _));
        Assert.False(t.Translate(v + 2 * Page, out _, out _));
        Assert.True(t.Translate(v + 3 * Page, out _, out _));
        Assert.Equal(0ul, t.Unmap(v + Page, Page));
    }

    // The flag bits of the leaf entry mapping virt (address bits removed), and its frame.
    static (ulong Flags, ulong Phys) Leaf(PageTable t, ulong virt)
    {
        Assert.True(t.Translate(virt, out ulong phys, out ulong flags), $"0x{virt:x} is not mapped");
        return (flags, phys);
    }

    [Fact]
    public void ProtectChangesTheFlagsOfMappedSmallPagesOnly()
    {
        // A module image the way the loader maps it: writable and not executable, then W^X.
        var t = NewTable();
        ulong v = AddressSpace.ModulesBase, phys = 0x7000;
        const int ImagePages = 4;
        Assert.Null(t.Map(v, phys, ImagePages * Page, Page, PageFlags.KernelReadWrite));
        ulong tables = t.TablesAllocated;

        Assert.Equal(2ul, t.Protect(v + Page, 2 * Page, PageFlags.KernelExecute));
        Assert.Equal((PageFlags.KernelReadWrite, phys), Leaf(t, v));
        Assert.Equal((PageFlags.KernelExecute, phys + Page), Leaf(t, v + Page));
        Assert.Equal((PageFlags.KernelExecute, phys + 2 * Page), Leaf(t, v + 2 * Page));
        Assert.Equal((PageFlags.KernelReadWrite, phys + 3 * Page), Leaf(t, v + 3 * Page));

        // Read-only: present and not executable, not writable.
        Assert.Equal(1ul, t.Protect(v + 3 * Page, Page, PageFlags.KernelRead));
        Assert.Equal((PageFlags.KernelRead, phys + 3 * Page), Leaf(t, v + 3 * Page));
        // Present is always kept, even when the flags leave it out.
        Assert.Equal(1ul, t.Protect(v, Page, PageFlags.NoExecute));
        Assert.Equal((PageFlags.NoExecute | PageFlags.Present, phys), Leaf(t, v));

        // Past the image (the guard page) nothing is mapped, and nothing gets mapped.
        Assert.Equal((ulong)ImagePages, t.Protect(v, (ImagePages + 2) * Page, PageFlags.KernelRead));
        Assert.False(t.Translate(v + ImagePages * Page, out _, out _));
        Assert.Equal(0ul, t.Protect(v + ImagePages * Page, 8 * Page, PageFlags.KernelReadWrite));
        Assert.Equal(0ul, t.Protect(v, 0, PageFlags.KernelReadWrite));
        Assert.Equal(0ul, t.Protect(AddressSpace.VmapBase, 16 * Page, PageFlags.KernelReadWrite));   // no tables there
        Assert.Equal(tables, t.TablesAllocated);
    }

    [Fact]
    public void ProtectLeavesLargePagesAlone()
    {
        var t = NewTable();
        ulong v = AddressSpace.VmapBase;
        Assert.Null(t.Map(v, 0, AddressSpace.LargePageSize, AddressSpace.LargePageSize, PageFlags.KernelReadWrite));
        Assert.Equal(0ul, t.Protect(v, AddressSpace.LargePageSize, PageFlags.KernelExecute));
        var (flags, _) = Leaf(t, v + Page);
        Assert.Equal(PageFlags.KernelReadWrite | PageFlags.Large, flags);
    }

    [Fact]
    public void EnsureSlotPreallocatesOnce()
    {
        var t = NewTable();
        ulong a = t.EnsureSlot(AddressSpace.VmapSlot);
        Assert.NotEqual(PageTable.NoTable, a);
        Assert.Equal(a, t.EnsureSlot(AddressSpace.VmapSlot));
        Assert.Equal(1ul, t.TablesAllocated);
        Assert.Equal(AddressSpace.VmapSlot, AddressSpace.SlotOf(AddressSpace.VmapBase));
        Assert.Equal(AddressSpace.LocalWindowSlot, AddressSpace.SlotOf(AddressSpace.LocalWindowBase));
        Assert.Equal(AddressSpace.KernelImageSlot, AddressSpace.SlotOf(AddressSpace.KernelImageBase));
        Assert.Equal(AddressSpace.DirectMapFirstSlot, AddressSpace.SlotOf(AddressSpace.DirectMapBase));
        Assert.Equal(AddressSpace.PerCpuFirstSlot, AddressSpace.SlotOf(AddressSpace.PerCpuBase));
    }
}
