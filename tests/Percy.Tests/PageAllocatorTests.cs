using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using Percy.Kernel.Mm;
using Xunit;

namespace Percy.Tests;

public unsafe class PageAllocatorTests
{
    static PageAllocator Create(ulong basePfn, ulong count)
    {
        var metadata = (byte*)NativeMemory.AllocZeroed((nuint)PageAllocator.MetadataBytes(basePfn, count));
        return new PageAllocator(basePfn, count, metadata);
    }

    [Fact]
    public void FreeRangeIsSplitIntoAlignedBlocks()
    {
        var a = Create(0, 4096);
        a.AddFreeRange(3, 2051);                               // 2048 pages, unaligned at both ends
        Assert.Equal(2048ul, a.FreePages);
        Assert.Equal(2048ul, a.ManagedPages);
        Assert.Equal(1ul, a.FreeBlocks(PageAllocator.MaxOrder));  // 1024..2047
        Assert.Equal(2ul, a.FreeBlocks(0));                    // pfn 3 and pfn 2050
    }

    [Fact]
    public void AllocSplitsAndFreeMergesBack()
    {
        var a = Create(0, 1024);
        a.AddFreeRange(0, 1024);
        ulong p = a.Alloc(0);
        Assert.NotEqual(PageAllocator.NoPage, p);
        Assert.Equal(1023ul, a.FreePages);
        for (int o = 0; o < PageAllocator.MaxOrder; o++) Assert.Equal(1ul, a.FreeBlocks(o));
        Assert.True(a.Free(p, 0));
        Assert.Equal(1ul, a.FreeBlocks(PageAllocator.MaxOrder));
        Assert.Equal(1024ul, a.FreePages);
    }

    [Fact]
    public void DoubleAndMismatchedFreesAreRefusedWithoutEffect()
    {
        var a = Create(100, 512);
        a.AddFreeRange(100, 612);
        ulong p = a.Alloc(2);
        ulong free = a.FreePages;
        Assert.False(a.Free(p, 1));                            // wrong order
        Assert.False(a.Free(p + 1, 0));                        // not a block head
        Assert.False(a.Free(5, 0));                            // outside the allocator
        Assert.Equal(free, a.FreePages);
        Assert.True(a.Free(p, 2));
        Assert.False(a.Free(p, 2));                            // double free
        Assert.Equal(free + 4, a.FreePages);
    }

    [Fact]
    public void ExhaustionReturnsNoPage()
    {
        var a = Create(0, 16);
        a.AddFreeRange(0, 16);
        for (int i = 0; i < 16; i++) Assert.NotEqual(PageAllocator.NoPage, a.Alloc(0));
        Assert.Equal(PageAllocator.NoPage, a.Alloc(0));
        Assert.Equal(PageAllocator.NoPage, a.Alloc(PageAllocator.MaxOrder + 1));
    }

    // Property: random alloc/free sequences against a set model: blocks are aligned,
    // never overlap, counts agree, and freeing everything restores the initial blocks.
    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public void RandomSequencesAgreeWithAModel(int seed)
    {
        var random = new Random(seed);
        const ulong Base = 0x1000, Count = 8192;
        var a = Create(Base, Count);
        a.AddFreeRange(Base + 5, Base + Count - 7);
        ulong initialFree = a.FreePages;
        var initialBlocks = new ulong[PageAllocator.MaxOrder + 1];
        for (int o = 0; o <= PageAllocator.MaxOrder; o++) initialBlocks[o] = a.FreeBlocks(o);
        var owner = new int[Count];
        var live = new List<(ulong Pfn, int Order)>();
        for (int step = 0; step < 100_000; step++)
        {
            if (live.Count == 0 || random.Next(100) < 55)
            {
                int order = random.Next(PageAllocator.MaxOrder + 1) / (random.Next(3) + 1);
                ulong pfn = a.Alloc(order);
                if (pfn == PageAllocator.NoPage) continue;
                Assert.Equal(0ul, pfn & ((1ul << order) - 1));
                for (ulong i = 0; i < (1ul << order); i++)
                {
                    Assert.Equal(0, owner[pfn - Base + i]);
                    owner[pfn - Base + i] = step + 1;
                }
                live.Add((pfn, order));
            }
            else
            {
                int i = random.Next(live.Count);
                var (pfn, order) = live[i];
                live[i] = live[^1];
                live.RemoveAt(live.Count - 1);
                Assert.True(a.Free(pfn, order));
                for (ulong k = 0; k < (1ul << order); k++) owner[pfn - Base + k] = 0;
            }
            ulong used = 0;
            foreach (var (_, order) in live) used += 1ul << order;
            Assert.Equal(initialFree - used, a.FreePages);
        }
        foreach (var (pfn, order) in live) Assert.True(a.Free(pfn, order));
        Assert.Equal(initialFree, a.FreePages);
        for (int o = 0; o <= PageAllocator.MaxOrder; o++) Assert.Equal(initialBlocks[o], a.FreeBlocks(o));
    }
}
