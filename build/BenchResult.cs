namespace Percy.Build;

/// <summary>Median, minimum and maximum of a set of samples.</summary>
internal sealed record BenchStat(double Median, double Min, double Max)
{
    public static BenchStat Of(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        if (sorted.Length == 0)
        {
            throw new ArgumentException("no samples", nameof(values));
        }

        int middle = sorted.Length / 2;
        double median = sorted.Length % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
        return new BenchStat(median, sorted[0], sorted[^1]);
    }
}

/// <summary>The three figures the benchmark reports for one configuration.</summary>
internal sealed record BenchSummary(BenchStat FirstLineSeconds, BenchStat PromptSeconds, BenchStat BootMs);

/// <summary>The boots of one QEMU configuration: how QEMU was started, every sample, and their summary.</summary>
internal sealed record BenchResult(string Name, string Configuration, string QemuCommand, IReadOnlyList<BootSample> Samples)
{
    public BenchSummary Summary { get; } = new(
        BenchStat.Of(Samples.Select(s => s.FirstLineSeconds)),
        BenchStat.Of(Samples.Select(s => s.PromptSeconds)),
        BenchStat.Of(Samples.Select(s => (double)s.BootMs)));
}
