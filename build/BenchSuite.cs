using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>`percpu stats`'s first line, parsed.</summary>
internal sealed record PercpuStats(long Allocs, long Frees, long Live, long LiveBytes, long MaxLiveBytes, int Chunks, int PopulatedPagesPerCpu, string Text);

/// <summary>Percy's boot line `percpu: N units, unit_vm=.., static=S reserved=R dynamic=D, committed=P pages/cpu`.</summary>
internal sealed record PercyFirstChunk(int Units, long StaticBytes, long ReservedBytes, long DynamicBytes, int CommittedPagesPerCpu, string Text);

/// <summary>One Percy boot of the sweep: its times, its first chunk, and what the commands run at that -smp printed.</summary>
internal sealed record PercyBoot(BootSample Boot, PercyFirstChunk FirstChunk, IReadOnlyList<double> BigarrayInsmodSeconds, PercyAllocBench? AllocBench);

/// <summary>`percpu bench N` at -smp 4 with `percpu stats` before and after.</summary>
internal sealed record PercyAllocBench(long AllocNs, long FreeNs, string StatsBefore, string StatsAfter, string BenchLine);

/// <summary>Both systems at one -smp.</summary>
internal sealed record BootPoint(int Smp, IReadOnlyList<PercyBoot> Percy, IReadOnlyList<LinuxSample> Linux);

/// <summary>Per-CPU memory after each module of the ladder (Percy, -smp 8).</summary>
internal sealed record ModuleStep(int ModulesLoaded, string Command, PercpuStats Stats, long ModulePerCpuBytes);

/// <summary>The host benchmark's curve: ns per alloc+free pair at each live count, per layout.</summary>
internal sealed record HostCurvePoint(string Layout, int Live, double PairNs, double? MinNs = null, double? MaxNs = null);

internal sealed record HostAllocator(double Packed1k, double Packed100k, double Holes1k, double Holes100k, IReadOnlyList<HostCurvePoint> Curve, string Command);

/// <summary>
/// The full benchmark (`./build.sh bench`): Percy and Linux booted back to back in the same
/// QEMU configuration at each -smp of <see cref="SmpSweep"/>, the per-CPU commands at -smp 4
/// and 8, the host allocator benchmark, objdump instruction counts and the refcount formulas;
/// written to bench/results/latest.{md,json} with SVG plots (<see cref="BenchSuiteReport"/>).
/// </summary>
internal static partial class BenchSuite
{
    public static readonly int[] SmpSweep = [1, 2, 4, 8, 16, 32, 64];
    public const int DefaultPercyRuns = 5;
    public const int DefaultLinuxRuns = 3;

    // Linux needs about one minute at -smp 32 and two at -smp 64 under TCG here: fewer runs there.
    public const int LargeSmp = 32;
    public const int MaxLargeSmpLinuxRuns = 2;

    // Where each per-CPU measurement runs (issue 8): the allocator at 4 CPUs, modules at 8.
    public const int AllocatorSmp = 4;
    public const int ModuleSmp = 8;
    public const int AllocBenchCount = 10_000;
    public const int BigarrayLoadsPerBoot = 3;

    private const string Memory = QemuOptions.DefaultMemory;
    private const string Machine = QemuOptions.DefaultMachine;
    private const string BigModule = "bigarray";

    // The sample modules in load order; refhold holds counter (its dependency) as in README.
    private static readonly (string Name, string Arguments)[] s_ladder =
    [
        ("hello", ""), ("counter", ""), ("counter_user", ""), ("cmod", ""), ("refhold", "target=counter hold=1"), (BigModule, ""),
    ];

    private static readonly int[] s_hostCurve = [1_000, 10_000, 100_000, 1_000_000];

    public static QemuOptions Options(int smp) => new(smp, Memory, Machine, Uefi: false);

    /// <summary>"1,4,8" → [1, 4, 8]; validated first by <see cref="ValidateSweep"/>.</summary>
    public static int[] ParseSweep(string list) => [.. list.Split(',').Select(v => int.Parse(v, NumberStyles.None, CultureInfo.InvariantCulture)).Distinct().Order()];

    public static string? ValidateSweep(string list)
        => list.Split(',').All(v => int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out int n) && QemuOptions.ValidateCpus(n) is null)
            ? null
            : $"--sweep must be -smp values from {QemuOptions.MinCpus} to {QemuOptions.MaxCpus} separated by commas, e.g. 1,4,8 (got '{list}')";

    public static async Task<int> RunAsync(IReadOnlyList<int> sweep, int percyRuns, int linuxRuns, bool linux, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        if (linux && LinuxPeer.Missing() is { Count: > 0 } missing)
        {
            throw new BuildException($"bench: the Linux peer is not set up (missing: {string.Join("; ", missing)}); {LinuxPeer.SetupAdvice}");
        }

        string iso = await IsoBuild.BuildAsync(IsoOptions.Default, cancellationToken);
        LinuxPeer.Artifacts? peer = linux ? await LinuxPeer.PrepareAsync(cancellationToken) : null;

        // Every Percy measurement first, then Linux's. Linux at -smp 32 and 64 keeps both host
        // cores busy for minutes, and this host runs slower for a while after: Percy at
        // -smp 64 took 1.57 s to the prompt right after those boots, 1.30 s a minute later.
        var percy = new Dictionary<int, IReadOnlyList<PercyBoot>>();
        foreach (int smp in sweep)
        {
            percy[smp] = await PercySweepAsync(smp, iso, percyRuns, cancellationToken);
        }

        IReadOnlyList<ModuleStep> ladder = await ModuleLadderAsync(iso, cancellationToken);
        HostAllocator host = await HostAllocatorAsync(cancellationToken);

        var points = new List<BootPoint>();
        foreach (int smp in sweep)
        {
            IReadOnlyList<LinuxSample> linuxSamples = peer is null ? [] : await LinuxSweepAsync(smp, peer, LinuxRunsAt(smp, linuxRuns), cancellationToken);
            points.Add(new BootPoint(smp, percy[smp], linuxSamples));
        }

        IReadOnlyList<FunctionDisassembly> disassembly = await DisassembleAsync(peer, cancellationToken);

        var report = new BenchSuiteReport(
            DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture),
            await BuildInfo.GetBuildIdAsync(cancellationToken),
            await BenchTarget.HostNprocAsync(cancellationToken),
            await BenchTarget.QemuVersionAsync(cancellationToken),
            BenchTarget.CommandLine("./build.sh", Environment.GetCommandLineArgs().Skip(1)),
            percyRuns,
            linux ? linuxRuns : 0,
            Math.Round(clock.Elapsed.TotalMinutes, 1),
            BenchTarget.CommandLine(QemuRunner.QemuBinary, QemuRunner.BuildArguments(Options(ModuleSmp), Paths.Display(iso))),
            linux ? LinuxPeer.DescribeCommand(Options(ModuleSmp)) : null,
            points,
            ladder,
            host,
            disassembly);
        await report.WriteAsync(cancellationToken);
        return ExitCodes.Success;
    }

    public static async Task<int> RewriteReportAsync(CancellationToken cancellationToken)
    {
        BenchSuiteReport report = await BenchSuiteReport.ReadAsync(cancellationToken);
        await report.WriteAsync(cancellationToken);
        return ExitCodes.Success;
    }

    public static int LinuxRunsAt(int smp, int linuxRuns) => smp >= LargeSmp ? Math.Min(linuxRuns, MaxLargeSmpLinuxRuns) : linuxRuns;

    private static async Task<IReadOnlyList<PercyBoot>> PercySweepAsync(int smp, string iso, int runs, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> arguments = QemuRunner.BuildArguments(Options(smp), iso);
        var boots = new List<PercyBoot>();
        string extra = smp == AllocatorSmp ? $", percpu bench {AllocBenchCount}" : smp == ModuleSmp ? $", insmod {BigModule} ×{BigarrayLoadsPerBoot}" : string.Empty;
        await Ui.StepAsync($"bench: Percy -smp {smp} ×{runs}{extra}", async status =>
        {
            for (int run = 1; run <= runs; run++)
            {
                PercyBoot boot = await PercyBootAsync(smp, arguments, $"Percy -smp {smp} boot {run}/{runs}", cancellationToken);
                boots.Add(boot);
                status.Report($"Percy {run}/{runs}: ready {boot.Boot.ReadySeconds:0.000} s, boot_ms {boot.Boot.BootMs}");
            }
        });
        return boots;
    }

    private static async Task<IReadOnlyList<LinuxSample>> LinuxSweepAsync(int smp, LinuxPeer.Artifacts peer, int runs, CancellationToken cancellationToken)
    {
        var samples = new List<LinuxSample>();
        await Ui.StepAsync($"bench: Linux -smp {smp} ×{runs}", async status =>
        {
            for (int run = 1; run <= runs; run++)
            {
                status.Report($"Linux {run}/{runs}: booting (timeout {LinuxPeer.HardTimeout.TotalSeconds:0} s)");
                LinuxSample sample = await LinuxPeer.BootAsync(peer, Options(smp), $"Linux -smp {smp} boot {run}/{runs}", cancellationToken);
                samples.Add(sample);
                status.Report($"Linux {run}/{runs}: userspace {sample.UserspaceSeconds:0.0} s, all CPUs at kernel time {sample.SmpbootKernelSeconds:0.000} s");
            }
        });
        return samples;
    }

    private static async Task<PercyBoot> PercyBootAsync(int smp, IReadOnlyList<string> arguments, string label, CancellationToken cancellationToken)
    {
        await using PercyGuest guest = await PercyGuest.BootAsync(arguments, label, cancellationToken);
        PercyFirstChunk firstChunk = ParseFirstChunk(guest.BootLog)
            ?? throw new BuildException($"bench: {label}: the boot log has no `percpu: N units, ... committed=P pages/cpu` line; the report reads Percy's per-CPU commitment from it", guest.BootLog);

        var insmod = new List<double>();
        PercyAllocBench? allocBench = null;
        if (smp == ModuleSmp)
        {
            for (int load = 0; load < BigarrayLoadsPerBoot; load++)
            {
                insmod.Add(await TimedInsmodAsync(guest, BigModule));
                await guest.RunExpectingAsync($"rmmod {BigModule}", Unloaded(BigModule));
            }
        }

        if (smp == AllocatorSmp)
        {
            allocBench = await AllocBenchAsync(guest);
        }

        await guest.PowerOffAsync();
        return new PercyBoot(guest.Boot, firstChunk, insmod, allocBench);
    }

    // From the last byte of the command written to the newline of `insmod: NAME loaded`.
    private static async Task<double> TimedInsmodAsync(PercyGuest guest, string name, string arguments = "")
    {
        ShellOutput output = await guest.RunExpectingAsync(arguments.Length == 0 ? $"insmod {name}" : $"insmod {name} {arguments}", Loaded(name));
        SerialLine loaded = output.Lines.First(l => Loaded(name).IsMatch(l.Text));
        return Math.Round(loaded.Seconds - output.SentSeconds, 6);
    }

    private static async Task<PercyAllocBench> AllocBenchAsync(PercyGuest guest)
    {
        ShellOutput before = await guest.RunExpectingAsync("percpu stats", StatsPattern());
        ShellOutput bench = await guest.RunExpectingAsync($"percpu bench {AllocBenchCount}", AllocBenchPattern());
        ShellOutput after = await guest.RunExpectingAsync("percpu stats", StatsPattern());
        Match m = bench.Find(AllocBenchPattern())!;
        return new PercyAllocBench(
            long.Parse(m.Groups["a"].Value, CultureInfo.InvariantCulture),
            long.Parse(m.Groups["f"].Value, CultureInfo.InvariantCulture),
            before.Text,
            after.Text,
            m.Value);
    }

    // One boot at -smp 8: `percpu stats` with no module, then after each module of the ladder.
    private static async Task<IReadOnlyList<ModuleStep>> ModuleLadderAsync(string iso, CancellationToken cancellationToken)
        => await Ui.StepAsync($"bench: -smp {ModuleSmp}: Percy per-CPU memory as {s_ladder.Length} modules load", async status =>
        {
            await using PercyGuest guest = await PercyGuest.BootAsync(QemuRunner.BuildArguments(Options(ModuleSmp), iso), $"Percy -smp {ModuleSmp} module ladder", cancellationToken);
            var steps = new List<ModuleStep> { new(0, "(none)", await StatsAsync(guest), 0) };
            foreach ((string name, string arguments) in s_ladder)
            {
                await TimedInsmodAsync(guest, name, arguments);
                ShellOutput lsmod = await guest.RunAsync("lsmod");
                long modulePerCpu = lsmod.Lines.Select(l => LsmodPerCpuPattern().Match(l.Text)).Where(m => m.Success).Sum(m => long.Parse(m.Groups["p"].Value, CultureInfo.InvariantCulture));
                PercpuStats stats = await StatsAsync(guest);
                steps.Add(new ModuleStep(steps.Count, $"insmod {name} {arguments}".TrimEnd(), stats, modulePerCpu));
                status.Report($"{steps.Count - 1} modules: {stats.PopulatedPagesPerCpu} pages/cpu, live_bytes {stats.LiveBytes}");
            }

            await guest.PowerOffAsync();
            return (IReadOnlyList<ModuleStep>)steps;
        });

    private static async Task<PercpuStats> StatsAsync(PercyGuest guest)
    {
        ShellOutput output = await guest.RunExpectingAsync("percpu stats", StatsPattern());
        Match m = output.Find(StatsPattern())!;
        long L(string g) => long.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture);
        return new PercpuStats(L("allocs"), L("frees"), L("live"), L("lb"), L("mlb"), (int)L("chunks"), (int)L("pages"), m.Value);
    }

    private static async Task<HostAllocator> HostAllocatorAsync(CancellationToken cancellationToken)
    {
        string curve = string.Join(',', s_hostCurve.Select(c => c.ToString(CultureInfo.InvariantCulture)));
        string[] arguments = ["run", "-c", "Release", "--project", "bench/HostPercpu", "--", "--json", "--curve", curve];
        ToolResult result = await Ui.StepAsync("bench: host allocator (bench/HostPercpu)", _ => Tool.RunAsync("dotnet", arguments, cancellationToken));

        // Exit 1 means a ratio above 2: a finding to report, not a failure of the benchmark.
        int start = result.Output.IndexOf('{', StringComparison.Ordinal);
        if (result.ExitCode > 1 || start < 0)
        {
            throw new BuildException($"bench: bench/HostPercpu failed (exit {result.ExitCode}); run `dotnet {string.Join(' ', arguments)}` to see why", result.Output);
        }

        using JsonDocument json = JsonDocument.Parse(result.Output[start..]);
        JsonElement root = json.RootElement;
        double Pair(string layout, string key) => root.GetProperty(layout).GetProperty(key).GetDouble();
        HostCurvePoint[] points = [.. root.GetProperty("curve").EnumerateArray().Select(p => new HostCurvePoint(
            p.GetProperty("layout").GetString()!, p.GetProperty("live").GetInt32(), p.GetProperty("pair_ns").GetDouble(),
            p.GetProperty("min_ns").GetDouble(), p.GetProperty("max_ns").GetDouble()))];
        return new HostAllocator(
            Pair("packed", "live_1000_pair_ns"), Pair("packed", "live_100000_pair_ns"),
            Pair("holes", "live_1000_pair_ns"), Pair("holes", "live_100000_pair_ns"),
            points,
            "dotnet " + string.Join(' ', arguments));
    }

    private static async Task<IReadOnlyList<FunctionDisassembly>> DisassembleAsync(LinuxPeer.Artifacts? peer, CancellationToken cancellationToken)
    {
        string counter = Path.Combine(Paths.Out, "modules", "counter.kmod");
        var functions = new List<FunctionDisassembly>
        {
            await Disassembly.OfAsync(Paths.KernelElf, "percpu_probe_this_cpu_inc", cancellationToken),
            await Disassembly.OfAsync(counter, "counter_this_cpu_inc", cancellationToken),
            await Disassembly.OfAsync(Paths.KernelElf, "percpu_probe_per_cpu_addr", cancellationToken),
        };
        if (peer is not null)
        {
            functions.Add(await Disassembly.OfAsync(peer.OpsModulePath, "percpu_ops_this_cpu_inc", cancellationToken));
            functions.Add(await Disassembly.OfAsync(peer.OpsModulePath, "percpu_ops_per_cpu_ptr", cancellationToken));
        }

        return functions;
    }

    public static PercyFirstChunk? ParseFirstChunk(string bootLog)
    {
        Match m = FirstChunkPattern().Match(bootLog);
        if (!m.Success)
        {
            return null;
        }

        long L(string g) => long.Parse(m.Groups[g].Value, CultureInfo.InvariantCulture);
        return new PercyFirstChunk((int)L("units"), L("s"), L("r"), L("d"), (int)L("c"), m.Value);
    }

    private static Regex Loaded(string name) => new($"^insmod: {Regex.Escape(name)} loaded$", RegexOptions.CultureInvariant);

    private static Regex Unloaded(string name) => new($"^rmmod: {Regex.Escape(name)} unloaded$", RegexOptions.CultureInvariant);

    [GeneratedRegex(@"percpu: (?<units>\d+) units, unit_vm=\d+, static=(?<s>\d+) reserved=(?<r>\d+) dynamic=(?<d>\d+), committed=(?<c>\d+) pages/cpu")]
    private static partial Regex FirstChunkPattern();

    [GeneratedRegex(@"^percpu: allocs=(?<allocs>\d+) frees=(?<frees>\d+) live=(?<live>\d+) live_bytes=(?<lb>\d+) max_live_bytes=(?<mlb>\d+) chunks=(?<chunks>\d+) populated_pages_per_cpu=(?<pages>\d+).*$")]
    private static partial Regex StatsPattern();

    [GeneratedRegex(@"percpu-bench: n=\d+ alloc_ns=(?<a>\d+) free_ns=(?<f>\d+)")]
    private static partial Regex AllocBenchPattern();

    [GeneratedRegex(@"^[a-z0-9_]+ core=\d+ percpu=(?<p>\d+) ")]
    private static partial Regex LsmodPerCpuPattern();
}
