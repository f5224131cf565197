using System.Globalization;
using System.Text.RegularExpressions;
using Percy.Harness;
using Percy.Tests.Support;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>
/// The module commands' console contract (issue 7), as helpers for the QEMU tests:
/// `insmod NAME [k=v..]` → `insmod: NAME loaded` | `insmod: NAME: error: REASON`;
/// `rmmod [--wait] NAME` → `rmmod: NAME unloaded` | `rmmod: NAME: error: REASON`;
/// `lsmod` → `NAME core=B percpu=B refcnt=N deps=a,b|-` per module, newest first, or
/// `lsmod: no modules loaded`. And the statistics that must read the same before and after.
/// </summary>
public static class ModuleShell
{
    public static readonly Regex LsmodLine = new(
        @"^(?<name>[a-z0-9_]+) core=(?<core>\d+) percpu=(?<percpu>\d+) refcnt=(?<refcnt>\d+) deps=(?<deps>-|[a-z0-9_]+(?:,[a-z0-9_]+)*)$",
        RegexOptions.CultureInvariant);

    public const string NoModules = "lsmod: no modules loaded";

    /// <summary>Hard limit for one QEMU run of these tests: only a hang reaches it.</summary>
    public static readonly TimeSpan MachineTimeout = TimeSpan.FromMinutes(5);

    /// <summary>For one command (an insmod at -smp 8 under TCG on a busy host is slow, never this slow).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    public sealed record LsmodEntry(string Name, long Core, long PerCpu, long Refcnt, string Deps)
    {
        public override string ToString() => $"{Name} core={Core} percpu={PerCpu} refcnt={Refcnt} deps={Deps}";
    }

    public static QemuMachine Boot(int cpus, string? iso = null)
    {
        var m = QemuMachine.Start(new QemuOptions { Smp = cpus, Timeout = MachineTimeout, IsoPath = iso });
        var boot = m.WaitForBoot();
        Assert.True(boot.CpusOnline == cpus, $"{boot.CpusOnline} CPUs online, QEMU has -smp {cpus}");
        return m;
    }

    public static CommandOutput Run(QemuMachine m, string command) => m.RunCommand(command, CommandTimeout);

    /// <summary>The messages (log prefix removed) a module logged, `NAME: ...`, in order.</summary>
    public static List<string> LogOf(CommandOutput o, string module) =>
        o.Select(KernelContract.StripLogPrefix).Where(l => l.StartsWith(module + ": ", StringComparison.Ordinal)).ToList();

    /// <summary>
    /// insmod that must succeed: the last line says so and nothing else came from the shell.
    /// Returns the module's log (lines prefixed `logName: `, by default the module's name; a C
    /// module writes its own prefix, so a renamed copy of cmod still logs as cmod).
    /// </summary>
    public static List<string> Insmod(QemuMachine m, string name, string args = "", string? logName = null)
    {
        var o = Run(m, args.Length == 0 ? $"insmod {name}" : $"insmod {name} {args}");
        Assert.True(o.Count > 0 && o[^1] == $"insmod: {name} loaded", $"insmod {name} {args}:\n{o.Text}");
        Assert.DoesNotContain(o, l => l.Contains("error", StringComparison.Ordinal) || KernelContract.IsPanicLine(l));
        return LogOf(o, logName ?? name);
    }

    /// <summary>rmmod that must succeed. Returns the module's log (its exit's lines), as <see cref="Insmod"/>.</summary>
    public static List<string> Rmmod(QemuMachine m, string name, bool wait = false, string? logName = null)
    {
        var o = Run(m, wait ? $"rmmod --wait {name}" : $"rmmod {name}");
        Assert.True(o.Count > 0 && o[^1] == $"rmmod: {name} unloaded", $"rmmod {name}:\n{o.Text}");
        Assert.DoesNotContain(o, l => l.Contains("error", StringComparison.Ordinal) || KernelContract.IsPanicLine(l));
        return LogOf(o, logName ?? name);
    }

    /// <summary>A command that must print exactly one line, `COMMAND: NAME: error: REASON`. Returns REASON.</summary>
    public static string Refused(QemuMachine m, string command, string name, string? args = null)
    {
        var o = Run(m, args is null ? $"{command} {name}" : $"{command} {name} {args}");
        string prefix = $"{command}: {name}: error: ";
        Assert.True(o.Count == 1 && o[0].StartsWith(prefix, StringComparison.Ordinal),
            $"`{o.Command}` should print one line `{prefix}<reason>`, printed:\n{o.Text}");
        return o[0][prefix.Length..];
    }

    public static List<LsmodEntry> Lsmod(QemuMachine m)
    {
        var o = Run(m, "lsmod");
        if (o.Count == 1 && o[0] == NoModules) return new();
        var entries = new List<LsmodEntry>();
        foreach (var line in o)
        {
            var x = LsmodLine.Match(line);
            Assert.True(x.Success, $"lsmod line not in the format `NAME core=B percpu=B refcnt=N deps=a,b|-`: '{line}'\n{o.Text}");
            entries.Add(new LsmodEntry(x.Groups["name"].Value, Number(x, "core"), Number(x, "percpu"), Number(x, "refcnt"), x.Groups["deps"].Value));
        }
        return entries;
    }

    public static long Number(Match x, string group) => long.Parse(x.Groups[group].Value, CultureInfo.InvariantCulture);

    /// <summary>
    /// What `percpu stats` and `mem` say about the current state: every line, with the
    /// counters that only grow (allocs=, frees=, max_live_bytes=) blanked, since a load and
    /// unload adds to them by design; live areas, live bytes, chunks, populated pages, free
    /// pages by order, heap bytes and pages, page-table pages must all read the same.
    /// </summary>
    public static List<string> State(QemuMachine m)
    {
        var lines = Run(m, "percpu stats").Concat(Run(m, "mem")).Select(l => Cumulative.Replace(l, "${name}=*")).ToList();
        Assert.Contains(lines, l => l.StartsWith("percpu: allocs=", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("pages: managed=", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("heap: ", StringComparison.Ordinal));
        return lines;
    }

    static readonly Regex Cumulative = new(@"\b(?<name>allocs|frees|max_live_bytes)=\d+", RegexOptions.CultureInvariant);

    public static void AssertSameState(List<string> before, List<string> after, string what)
    {
        var changed = before.Zip(after).Where(p => p.First != p.Second).Select(p => $"  before: {p.First}\n  after:  {p.Second}").ToList();
        Assert.True(before.Count == after.Count && changed.Count == 0,
            $"{what} changed the statistics ({before.Count} lines before, {after.Count} after):\n{string.Join('\n', changed)}");
    }

    /// <summary>
    /// One load and unload of hello and of bigarray before a baseline is taken: the first
    /// loads leave state behind by design, and after them every load and unload must return
    /// the statistics exactly where they were.
    /// <list type="bullet">
    /// <item>The page-table page under the module area (kernel tables are shared and never freed).</item>
    /// <item>The per-CPU allocator's reserve: the first allocation populates up to 4 empty pages
    /// per CPU for atomic requests and keeps them (docs/percpu.md; populated_pages_per_cpu 5 → 9
    /// at -smp 8).</item>
    /// <item>Which pages hold that reserve: a free depopulates the pages it emptied, highest first,
    /// and only those. bigarray's 16,800 bytes land on the reserve pages (5-8) and the refill
    /// after it populates 9-12; the free then depopulates 5-8 and keeps 9-12 as the reserve. The
    /// counts are unchanged, but other physical pages are free, so `mem`'s free blocks by order
    /// differ. From then on every cycle populates and depopulates 5-8 (the same with `percpu
    /// alloc 16800` / `percpu free`: the per-CPU allocator's doing, not the loader's).</item>
    /// </list>
    /// </summary>
    public static void WarmUp(QemuMachine m)
    {
        foreach (var name in new[] { "hello", "bigarray" })
        {
            Insmod(m, name);
            Rmmod(m, name);
        }
    }

    /// <summary>The .kmod files in the booted image, read back from it (not from iso/out, which may be newer).</summary>
    public static PatchableElf ModuleIn(QemuMachine m, string name) =>
        s_modules.GetOrAdd((m.IsoPath, name), key => PatchableElf.Parse(PercyIso.ExtractFile(key.Iso, $"{GrubConfig.ModulesDirectory}/{key.Name}.kmod")));

    static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Iso, string Name), PatchableElf> s_modules = new();
}
