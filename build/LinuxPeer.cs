using System.Globalization;
using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>What one Linux boot reported (see bench/linux/init.sh); null where it printed nothing.</summary>
internal sealed record LinuxSample(
    int Smp,
    double UserspaceSeconds,
    double? UptimeSeconds,
    double? SmpbootKernelSeconds,
    int? ProcessorsActivated,
    int? NrCpus,
    int? EmbeddedPagesPerCpu,
    long? StaticBytes,
    long? ReservedBytes,
    long? DynamicBytes,
    long? UnitBytes,
    IReadOnlyList<double> SmallInsmodSeconds,
    int? BigarrayRc,
    string? BigarrayMessage,
    long? AllocNs,
    long? FreeNs,
    int? PercpuKbBefore,
    int? PercpuKbAfter,
    double DoneSeconds);

/// <summary>
/// The Linux side of the benchmark: Debian's Linux 6.1 (the peer in ../shared/peers/linux)
/// booted with -kernel/-initrd in the same QEMU configuration as Percy. <see cref="PrepareAsync"/>
/// builds the peer's modules and bench/linux/percpu_ops.c against Debian's headers and packs an
/// initramfs with bench/linux/init.sh; <see cref="BootAsync"/> boots it once and parses its lines.
/// </summary>
internal static partial class LinuxPeer
{
    public const string KernelVersion = "6.1.0-56-amd64";

    /// <summary>The peer's kernel command line (peers/linux/run.sh): quiet, so the console shows init's lines and errors only.</summary>
    public const string Append = "console=ttyS0 quiet loglevel=3";

    /// <summary>Linux at -smp 64 under TCG on two shared cores takes about two minutes to userspace; ten is a hang.</summary>
    public static readonly TimeSpan HardTimeout = TimeSpan.FromSeconds(600);

    // Where peers/linux/run.sh unpacks linux-image (it does not install it), unless WORK says otherwise.
    private const string DefaultPeerWork = "/tmp/linuxpeer";
    private const string PeerWorkVariable = "WORK";
    private const string PeerDirectory = "../shared/peers/linux";
    private const string BusyBox = "/bin/busybox";
    private const string UserspaceMarker = "PEER-UP";
    private const string DoneMarker = "PEER-DONE";

    // The modules packed into the initramfs: the peer's three and the benchmark's own.
    private static readonly string[] s_peerModules = ["small", "bigarray", "allocbench"];
    public const string OpsModule = "percpu_ops";

    public static string PeerPath => Path.GetFullPath(Path.Combine(Paths.Root, PeerDirectory));

    private static string Headers => $"/usr/src/linux-headers-{KernelVersion}";

    private static string WorkDirectory => Path.Combine(Paths.Out, "linux-peer");

    /// <summary>The vmlinuz run.sh unpacked, or the installed one; null when neither exists.</summary>
    private static string? FindKernel()
    {
        string work = Environment.GetEnvironmentVariable(PeerWorkVariable) is { Length: > 0 } w ? w : DefaultPeerWork;
        return new[] { Path.Combine(work, "x", "boot", $"vmlinuz-{KernelVersion}"), $"/boot/vmlinuz-{KernelVersion}" }.FirstOrDefault(File.Exists);
    }

    /// <summary>What is missing for the Linux peer, each with the fix; empty when it can run.</summary>
    public static IReadOnlyList<string> Missing()
    {
        string runSh = Path.Combine(PeerPath, "run.sh");
        var missing = new List<string>();
        if (!File.Exists(runSh))
        {
            missing.Add($"the peer scripts ({PeerPath})");
        }

        if (FindKernel() is null)
        {
            missing.Add($"vmlinuz-{KernelVersion} (run.sh unpacks linux-image-{KernelVersion} into {DefaultPeerWork}/x)");
        }

        if (!Directory.Exists(Headers))
        {
            missing.Add($"linux-headers-{KernelVersion}");
        }

        if (!File.Exists(BusyBox))
        {
            missing.Add("busybox-static");
        }

        if (!Tool.IsOnPath("cpio"))
        {
            missing.Add("cpio");
        }

        return missing;
    }

    public static string SetupAdvice => $"run {Paths.Display(Path.Combine(PeerPath, "run.sh"))} once as root (it installs qemu-system-x86, busybox-static, cpio and linux-headers-{KernelVersion} with apt-get and unpacks linux-image-{KernelVersion}), or pass --no-linux for Percy's figures alone";

    /// <summary>The built peer: kernel, initramfs, and the percpu_ops module for objdump.</summary>
    internal sealed record Artifacts(string Kernel, string Initrd, string OpsModulePath);

    public static async Task<Artifacts> PrepareAsync(CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new BuildException("bench: the Linux peer needs a Linux host (make, cpio, Debian's headers); pass --no-linux for Percy's figures alone");
        }

        IReadOnlyList<string> missing = Missing();
        if (missing.Count > 0)
        {
            throw new BuildException($"bench: the Linux peer is not set up (missing: {string.Join("; ", missing)}); {SetupAdvice}");
        }

        string kernel = FindKernel()!;
        string modules = Path.Combine(WorkDirectory, "mod");
        string root = Path.Combine(WorkDirectory, "initramfs");
        string initrd = Path.Combine(WorkDirectory, "initrd.cpio");
        await Ui.StepAsync($"bench: Linux peer modules and initramfs ({Paths.Display(WorkDirectory)})", async _ =>
        {
            RecreateDirectory(modules);
            foreach (string name in s_peerModules)
            {
                File.Copy(Path.Combine(PeerPath, "mod", name + ".c"), Path.Combine(modules, name + ".c"));
            }

            File.Copy(Path.Combine(Paths.Root, "bench", "linux", OpsModule + ".c"), Path.Combine(modules, OpsModule + ".c"));
            await File.WriteAllTextAsync(
                Path.Combine(modules, "Makefile"),
                "obj-m := " + string.Join(' ', s_peerModules.Append(OpsModule).Select(m => m + ".o")) + "\n",
                cancellationToken);
            await Tool.RunCheckedAsync("make", ["-s", "-C", Headers, $"M={modules}", "modules"], "bench: building the Linux peer modules",
                $"check that linux-headers-{KernelVersion} and gcc are installed ({SetupAdvice})", cancellationToken);

            RecreateDirectory(root);
            foreach (string directory in new[] { "bin", "proc", "sys", "dev" })
            {
                Directory.CreateDirectory(Path.Combine(root, directory));
            }

            File.Copy(BusyBox, Path.Combine(root, "bin", "busybox"));
            foreach (string name in s_peerModules)
            {
                File.Copy(Path.Combine(modules, name + ".ko"), Path.Combine(root, name + ".ko"));
            }

            string init = Path.Combine(root, "init");
            File.Copy(Path.Combine(Paths.Root, "bench", "linux", "init.sh"), init);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(init, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                    | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }

            // An uncompressed newc archive: the kernel unpacks it as it would a gzipped one.
            ToolResult archive = await Tool.RunAsync("sh", ["-c", $"find . | cpio -o -H newc > '{initrd}'"], cancellationToken, workingDirectory: root);
            if (!archive.Succeeded)
            {
                throw new BuildException($"bench: packing the Linux initramfs with cpio failed (exit {archive.ExitCode}); {SetupAdvice}", archive.Output);
            }
        });

        return new Artifacts(kernel, initrd, Path.Combine(modules, OpsModule + ".ko"));
    }

    /// <summary>Boots Linux once at -smp <paramref name="smp"/> and parses what init printed.</summary>
    public static async Task<LinuxSample> BootAsync(Artifacts peer, QemuOptions options, string label, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> arguments = QemuRunner.BuildKernelArguments(options, peer.Kernel, peer.Initrd, Append);
        await using SerialSession session = SerialSession.Start(label, arguments, prompt: null, HardTimeout, cancellationToken);
        SerialLine up = await session.WaitForLineAsync(0, l => l.Contains(UserspaceMarker, StringComparison.Ordinal), $"{UserspaceMarker} (Linux's init)");
        SerialLine done = await session.WaitForLineAsync(up.Index, l => l == DoneMarker, DoneMarker);
        await session.WaitForExitAsync();
        return Parse(options.Cpus, session.Lines, up, done);
    }

    /// <summary>QEMU's command line for the report, with the paths shortened.</summary>
    public static string DescribeCommand(QemuOptions options)
        => string.Join(' ', QemuRunner.BuildKernelArguments(options, $"vmlinuz-{KernelVersion}", "initrd.cpio", Append)
            .Select(a => a.Contains(' ', StringComparison.Ordinal) ? $"'{a}'" : a).Prepend(QemuRunner.QemuBinary));

    private static LinuxSample Parse(int smp, IReadOnlyList<SerialLine> lines, SerialLine up, SerialLine done)
    {
        Match? First(Regex pattern) => lines.Select(l => pattern.Match(l.Text)).FirstOrDefault(m => m.Success);
        static long Long(Match m, string group) => long.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);
        static int? IntOf(Match? m, string group) => m is null ? null : int.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

        Match? uptime = First(UptimePattern());
        Match? smpboot = First(SmpbootPattern());
        Match? setup = First(SetupPercpuPattern());
        Match? embedded = First(EmbeddedPattern());
        Match? bigarray = First(BigarrayEndPattern());
        Match? allocbench = First(AllocbenchPattern());
        Match? before = First(MeminfoPattern("before"));
        Match? after = First(MeminfoPattern("after"));

        // Each SMALL-BEGIN i pairs with its SMALL-END i rc=0; a failed load is no sample.
        var begins = new Dictionary<string, double>(StringComparer.Ordinal);
        var small = new List<double>();
        foreach (SerialLine line in lines)
        {
            if (SmallBeginPattern().Match(line.Text) is { Success: true } b)
            {
                begins[b.Groups["i"].Value] = line.Seconds;
            }
            else if (SmallEndPattern().Match(line.Text) is { Success: true } e && e.Groups["rc"].Value == "0" && begins.TryGetValue(e.Groups["i"].Value, out double start))
            {
                small.Add(Math.Round(line.Seconds - start, 6));
            }
        }

        return new LinuxSample(
            smp,
            Math.Round(up.Seconds, 6),
            uptime is null ? null : double.Parse(uptime.Groups["up"].Value, CultureInfo.InvariantCulture),
            smpboot is null ? null : double.Parse(smpboot.Groups["t"].Value, CultureInfo.InvariantCulture),
            IntOf(smpboot, "n"),
            IntOf(setup, "nr"),
            IntOf(embedded, "pages"),
            embedded is null ? null : Long(embedded, "s"),
            embedded is null ? null : Long(embedded, "r"),
            embedded is null ? null : Long(embedded, "d"),
            embedded is null ? null : Long(embedded, "u"),
            small,
            IntOf(bigarray, "rc"),
            lines.Select(l => l.Text).FirstOrDefault(t => t.Contains("Could not allocate", StringComparison.Ordinal)) is string could
                ? KernelTimestampPattern().Replace(could, string.Empty)
                : null,
            allocbench is null ? null : Long(allocbench, "a"),
            allocbench is null ? null : Long(allocbench, "f"),
            IntOf(before, "kb"),
            IntOf(after, "kb"),
            Math.Round(done.Seconds, 6));
    }

    private static void RecreateDirectory(string path)
    {
        if (Directory.Exists(path))
        {
            Directory.Delete(path, recursive: true);
        }

        Directory.CreateDirectory(path);
    }

    private static Regex MeminfoPattern(string when) => new($@"^PEER-MEMINFO {when} Percpu:\s+(?<kb>\d+) kB", RegexOptions.CultureInvariant);

    [GeneratedRegex(@"PEER-UP uptime=(?<up>\d+\.\d+)")]
    private static partial Regex UptimePattern();

    [GeneratedRegex(@"^\[\s*(?<t>\d+\.\d+)\] smpboot: Total of (?<n>\d+) processors activated")]
    private static partial Regex SmpbootPattern();

    [GeneratedRegex(@"setup_percpu: NR_CPUS:(?<nr>\d+)")]
    private static partial Regex SetupPercpuPattern();

    [GeneratedRegex(@"percpu: Embedded (?<pages>\d+) pages/cpu s(?<s>\d+) r(?<r>\d+) d(?<d>\d+) u(?<u>\d+)")]
    private static partial Regex EmbeddedPattern();

    [GeneratedRegex(@"^BIGARRAY-END rc=(?<rc>\d+)")]
    private static partial Regex BigarrayEndPattern();

    [GeneratedRegex(@"ALLOCBENCH n=\d+ ok=\d+ alloc_ns=(?<a>\d+) free_ns=(?<f>\d+)")]
    private static partial Regex AllocbenchPattern();

    [GeneratedRegex(@"^SMALL-BEGIN (?<i>\d+)$")]
    private static partial Regex SmallBeginPattern();

    [GeneratedRegex(@"^SMALL-END (?<i>\d+) rc=(?<rc>\d+)$")]
    private static partial Regex SmallEndPattern();

    [GeneratedRegex(@"^\[\s*\d+\.\d+\]\s*")]
    private static partial Regex KernelTimestampPattern();
}
