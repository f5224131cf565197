using Percy.Kernel;
using Percy.Kernel.Mm;
using Percy.Kernel.Percpu;
using Xunit;

namespace Percy.Tests;

// The first chunk's unit layout (kernel/percpu/PerCpuLayout.cs), Linux's
// pcpu_build_alloc_info for Percy's per-CPU virtual memory.
public class PerCpuLayoutTests
{
    const ulong Page = AddressSpace.PageSize;
    const ulong MiB = 1ul << 20;

    static string Text(TextLine line)
    {
        var chars = new char[line.Length];
        for (int i = 0; i < line.Length; i++) chars[i] = (char)line[i];
        return new string(chars);
    }

    static PerCpuUnitLayout Build(ulong staticSize, ulong reserved, ulong unitVm, int cpus)
    {
        string error = PerCpuLayout.Build(staticSize, reserved, unitVm, Page, cpus, out PerCpuUnitLayout layout);
        Assert.Null(error);
        return layout;
    }

    static string Refusal(ulong staticSize, ulong reserved, ulong unitVm, int cpus, ulong page = Page)
    {
        string error = PerCpuLayout.Build(staticSize, reserved, unitVm, page, cpus, out PerCpuUnitLayout layout);
        Assert.NotNull(error);
        Assert.Equal(0, layout.Units);
        return error;
    }

    [Fact]
    public void DefaultsGiveStaticReservedAndDynamicParts()
    {
        // A section of 0x4230 bytes = 16,944: five pages.
        PerCpuUnitLayout l = Build(0x4230, PerCpuLayout.DefaultReserved, PerCpuLayout.DefaultUnitVm, 8);
        Assert.Equal(8, l.Units);
        Assert.Equal(MiB, l.UnitVm);
        Assert.Equal(0x4230ul, l.StaticSize);
        Assert.Equal(0ul, l.ReservedSize);
        Assert.Equal(MiB - 0x4230, l.DynamicSize);
        Assert.Equal(5ul, l.CommittedPages);
        Assert.Equal(5 * Page, l.CommittedBytes);
        Assert.Equal(0x4230ul, l.ReservedOffset);
        Assert.Equal(0x4230ul, l.DynamicOffset);
        Assert.Equal(l.UnitVm, l.StaticSize + l.ReservedSize + l.DynamicSize);
        Assert.Equal(
            "percpu: 8 units, unit_vm=1048576, static=16944 reserved=0 dynamic=1031632, committed=5 pages/cpu",
            Text(l.FormatLine()));
    }

    [Fact]
    public void ReservedPartSitsBetweenStaticAndDynamic()
    {
        PerCpuUnitLayout l = Build(5000, 8192, 2 * MiB, 2);
        Assert.Equal(5000ul, l.ReservedOffset);
        Assert.Equal(13192ul, l.DynamicOffset);
        Assert.Equal(2 * MiB - 13192, l.DynamicSize);
        Assert.Equal(2ul, l.CommittedPages);            // the static part only; reserved pages come on demand
        Assert.Equal(
            "percpu: 2 units, unit_vm=2097152, static=5000 reserved=8192 dynamic=2083960, committed=2 pages/cpu",
            Text(l.FormatLine()));
    }

    [Theory]
    [InlineData(0ul, 0ul)]
    [InlineData(1ul, 1ul)]
    [InlineData(4096ul, 1ul)]
    [InlineData(4097ul, 2ul)]
    [InlineData(16800ul, 5ul)]
    public void CommitsTheStaticPartRoundedUpToPages(ulong staticSize, ulong pages)
        => Assert.Equal(pages, Build(staticSize, 0, MiB, 1).CommittedPages);

    [Fact]
    public void UnitsAreAConstantStrideApartAndPerCpuIsArithmetic()
    {
        Assert.Equal(16ul << 30, PerCpuLayout.UnitStride);
        Assert.Equal(AddressSpace.PerCpuBase, PerCpuLayout.UnitBase(0));
        Assert.Equal(AddressSpace.PerCpuBase + (16ul << 30), PerCpuLayout.UnitBase(1));
        Assert.Equal(AddressSpace.PerCpuBase + 255 * (16ul << 30), PerCpuLayout.UnitBase(255));
        Assert.Equal(PerCpuLayout.UnitBase(7) + 0x40, PerCpuLayout.GlobalAddress(7, 0x40));
        Assert.Equal(AddressSpace.LocalWindowBase + 0x40, PerCpuLayout.LocalAddress(0x40));
        Assert.Equal(PerCpuLayout.UnitBase(3), PerCpuLayout.Offset(3));

        // Every unit lies in the per-CPU PML4 slots, 1 GiB aligned, and the last one ends at their end.
        for (int cpu = 0; cpu < PerCpuLayout.MaxUnits; cpu++)
        {
            ulong b = PerCpuLayout.UnitBase(cpu);
            Assert.InRange(AddressSpace.SlotOf(b), AddressSpace.PerCpuFirstSlot, AddressSpace.PerCpuFirstSlot + AddressSpace.PerCpuSlots - 1);
            Assert.Equal(0ul, b % AddressSpace.HugePageSize);
        }
        Assert.Equal(PerCpuLayout.RegionEnd, PerCpuLayout.UnitBase(PerCpuLayout.MaxUnits - 1) + PerCpuLayout.UnitStride);
        Assert.Equal(PerCpuLayout.RegionEnd, AddressSpace.PerCpuBase + AddressSpace.PerCpuSlots * AddressSpace.SlotSize);
    }

    [Fact]
    public void LargestLayoutsFit()
    {
        Assert.Equal(PerCpuLayout.MaxUnits, Build(0x4230, 0, PerCpuLayout.UnitStride, PerCpuLayout.MaxUnits).Units);
        PerCpuUnitLayout exact = Build(MiB - 4096, 4096, MiB, 1);
        Assert.Equal(0ul, exact.DynamicSize);
        Assert.Equal(Page, Build(0, 0, Page, 1).UnitVm);
    }

    [Theory]
    [InlineData(0ul, "unit_vm is not a power of two")]
    [InlineData(3ul << 20, "unit_vm is not a power of two")]
    [InlineData((1ul << 20) + 4096, "unit_vm is not a power of two")]
    [InlineData(2048ul, "unit_vm is smaller than a page")]
    [InlineData(32ul << 30, "unit_vm is larger than the per-CPU unit stride (16 GiB)")]
    public void RefusesBadUnitVm(ulong unitVm, string reason)
        => Assert.Equal(reason, Refusal(0x4230, 0, unitVm, 4));

    [Fact]
    public void RefusesUnitsTooSmallForStaticAndReserved()
    {
        Assert.Equal("unit_vm is smaller than static + reserved", Refusal(MiB + 1, 0, MiB, 4));
        Assert.Equal("unit_vm is smaller than static + reserved", Refusal(0x4230, MiB, MiB, 4));
        Assert.Equal("unit_vm is smaller than static + reserved", Refusal(64 * 1024, 0, 32 * 1024, 4));
    }

    [Fact]
    public void RefusesBadCpuCountsAndOverflow()
    {
        Assert.Equal("no possible CPUs", Refusal(0x4230, 0, MiB, 0));
        Assert.Equal("no possible CPUs", Refusal(0x4230, 0, MiB, -1));
        // PerCpuBase + n * stride past the end of the per-CPU slots.
        Assert.Equal("too many CPUs: their units would pass the end of the per-CPU region", Refusal(0x4230, 0, MiB, PerCpuLayout.MaxUnits + 1));
        Assert.Equal("too many CPUs: their units would pass the end of the per-CPU region", Refusal(0x4230, 0, MiB, int.MaxValue));
        Assert.Equal("static + reserved overflows", Refusal(ulong.MaxValue - 3, 8, MiB, 1));
    }

    [Fact]
    public void RefusesOddReservedSizesAndPages()
    {
        Assert.Equal("reserved size is not a multiple of 4 bytes", Refusal(0x4230, 6, MiB, 1));
        Assert.Equal("page size is not a power of two", Refusal(0x4230, 0, MiB, 1, page: 0));
        Assert.Equal("page size is not a power of two", Refusal(0x4230, 0, MiB, 1, page: 3000));
    }

    static KernelCommandLine CommandLine(string text)
    {
        var c = new KernelCommandLine();
        c.Parse(text);
        return c;
    }

    [Fact]
    public void ReadsUnitVmAndReservedFromTheCommandLine()
    {
        Assert.Null(PerCpuLayout.ReadOptions(CommandLine("quiet"), out ulong unitVm, out ulong reserved, out string bad));
        Assert.Equal(PerCpuLayout.DefaultUnitVm, unitVm);
        Assert.Equal(0ul, reserved);
        Assert.Null(bad);

        Assert.Null(PerCpuLayout.ReadOptions(CommandLine("percpu.unit_vm=4M percpu.reserved=8K"), out unitVm, out reserved, out bad));
        Assert.Equal(4 * MiB, unitVm);
        Assert.Equal(8192ul, reserved);

        Assert.Null(PerCpuLayout.ReadOptions(CommandLine("percpu.unit_vm=0x200000"), out unitVm, out _, out _));
        Assert.Equal(2 * MiB, unitVm);

        Assert.NotNull(PerCpuLayout.ReadOptions(CommandLine("percpu.unit_vm=lots"), out _, out _, out bad));
        Assert.Equal("percpu.unit_vm", bad);
        Assert.NotNull(PerCpuLayout.ReadOptions(CommandLine("percpu.reserved"), out _, out _, out bad));
        Assert.Equal("percpu.reserved", bad);

        // A well-formed but unusable value is the layout's to refuse, with its reason.
        Assert.Null(PerCpuLayout.ReadOptions(CommandLine("percpu.unit_vm=3M"), out unitVm, out _, out _));
        Assert.Equal("unit_vm is not a power of two", Refusal(0x4230, 0, unitVm, 1));
    }
}
