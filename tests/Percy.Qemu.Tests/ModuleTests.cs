using System.Text;
using System.Text.RegularExpressions;
using Percy.Harness;
using Xunit;
using static Percy.Qemu.Tests.ModuleShell;

namespace Percy.Qemu.Tests;

/// <summary>
/// The sample modules on 8 CPUs through the shell (issue 7): each loads, does its work (its
/// own log lines say what it checked) and unloads; lsmod reports image bytes, per-CPU bytes,
/// references and dependencies exactly; a module that others use, or that holds references,
/// stays loaded until they are gone; and loading and unloading leaves `percpu stats` and
/// `mem` exactly as they were.
/// </summary>
public class ModuleTests
{
    const int Cpus = 8;
    const long RefcountBytesPerCpu = 8;         // a module's reference count: one long per CPU (seed 004)
    const long PerCpuGranule = 4;               // the per-CPU allocator's granularity
    const int BigArrayItems = 4200, BigArrayBase = 10000;
    const int CounterUserIncrementsPerCpu = 2;  // counter_user's PerCpu
    const int BigArrayCycles = 20;

    static readonly Regex PercpuLive = new(@"^percpu: allocs=\d+ frees=\d+ live=(?<live>\d+) live_bytes=(?<bytes>\d+) ", RegexOptions.CultureInvariant);
    static readonly Regex BigArrayInit = new(
        $@"^bigarray: bigarray\[{BigArrayItems}\] \({BigArrayItems * sizeof(int)} bytes\) written and checked on {Cpus} CPUs, offset (?<offset>0x[0-9a-f]+)$",
        RegexOptions.CultureInvariant);

    // What lsmod must print for a sample: its image from the file in the booted ISO, its
    // per-CPU section rounded to the allocator's granule.
    static LsmodEntry Expected(QemuMachine m, string name, long refcnt = 0, string deps = "-")
    {
        var elf = ModuleIn(m, name);
        long perCpu = ((long)ModuleImageModel.PerCpuBytes(elf) + PerCpuGranule - 1) / PerCpuGranule * PerCpuGranule;
        return new LsmodEntry(name, (long)ModuleImageModel.CoreBytes(elf), perCpu, refcnt, deps);
    }

    // lsmod, newest first.
    static void AssertLsmod(QemuMachine m, params LsmodEntry[] expected) =>
        Assert.Equal(expected.Select(e => e.ToString()), Lsmod(m).Select(e => e.ToString()));

    // bigarray's exit prints CPU 0's bigarray[i] for i = 1, 2, 4, ... below 4200, on one line.
    static IEnumerable<string> BigArrayExit()
    {
        var line = new StringBuilder("bigarray: cpu 0:");
        for (int i = 1; i < BigArrayItems; i <<= 1) line.Append($" bigarray[{i}]={BigArrayBase + i}");
        yield return line.ToString();
    }

    static (long Live, long Bytes) PercpuLiveNow(QemuMachine m)
    {
        var x = Run(m, "percpu stats").Select(l => PercpuLive.Match(l)).Single(x => x.Success);
        return (Number(x, "live"), Number(x, "bytes"));
    }

    [Fact]
    public void Each_sample_loads_works_and_unloads_at_smp8()
    {
        using var m = Boot(Cpus);
        WarmUp(m);
        var before = State(m);
        Assert.Empty(Lsmod(m));

        // hello: the smallest module, no per-CPU data.
        Assert.Matches($@"^hello: hello from cpu \d+ of {Cpus} possible$", Assert.Single(Insmod(m, "hello")));
        var hello = Expected(m, "hello");
        Assert.Equal(0, hello.PerCpu);
        AssertLsmod(m, hello);
        Assert.Equal(new[] { "hello: goodbye" }, Rmmod(m, "hello"));
        Assert.Empty(Lsmod(m));

        // counter exports a per-CPU counter; counter_user adds 2 to every CPU's copy through
        // it, and counter's own sum (read on exit) must have seen every one.
        Assert.Matches(@"^counter: loaded, 1 hit so far \(on cpu \d+\)$", Assert.Single(Insmod(m, "counter")));
        string user = Assert.Single(Insmod(m, "counter_user"));
        var sum = Regex.Match(user, $@"^counter_user: incremented counter on {Cpus} CPUs: sum (?<sum>\d+), offset 0x[0-9a-f]+$");
        Assert.True(sum.Success, user);
        Assert.Equal(1 + CounterUserIncrementsPerCpu * Cpus, Number(sum, "sum"));
        var counter = Expected(m, "counter");
        Assert.Equal(8, counter.PerCpu);
        AssertLsmod(m, Expected(m, "counter_user", deps: "counter"), counter);
        Assert.Empty(Rmmod(m, "counter_user"));
        Assert.Equal(new[] { $"counter: {Number(sum, "sum")} hits in all" }, Rmmod(m, "counter"));

        // bigarray: seed 002's 16,800 bytes per CPU (Linux 6.1 refuses it), written and read
        // back on every CPU by init; exit prints CPU 0's copy.
        Assert.Matches(BigArrayInit, Assert.Single(Insmod(m, "bigarray")));
        var bigarray = Expected(m, "bigarray");
        Assert.Equal(BigArrayItems * sizeof(int), bigarray.PerCpu);
        AssertLsmod(m, bigarray);
        Assert.Equal(BigArrayExit(), Rmmod(m, "bigarray"));

        // cmod (C, gcc): its own per-CPU counter and the kernel's, through smp_call_function.
        Assert.Equal(new[] { $"cmod: counted a call on every online CPU, and the kernel's Magic was right on each: {Cpus}" }, Insmod(m, "cmod"));
        AssertLsmod(m, Expected(m, "cmod"));
        Assert.Equal(new[] { $"cmod: calls counted: {Cpus}" }, Rmmod(m, "cmod"));

        // refhold takes 5 references to hello on every CPU and gives them back in init.
        Insmod(m, "hello");
        Assert.Equal(new[] { $"refhold: hello: refcount 0 -> {5 * Cpus} after {5 * Cpus} gets on {Cpus} CPUs", "refhold: refcount 0 after the puts" },
                     Insmod(m, "refhold", "target=hello gets=5"));
        AssertLsmod(m, Expected(m, "refhold"), hello);
        Assert.Empty(Rmmod(m, "refhold"));
        Rmmod(m, "hello");

        AssertSameState(before, State(m), "loading and unloading every sample");
        Assert.Empty(Lsmod(m));
    }

    [Fact]
    public void All_samples_at_once_take_exactly_their_per_cpu_bytes_and_give_them_back_at_smp8()
    {
        using var m = Boot(Cpus);
        WarmUp(m);
        var before = State(m);
        var (live, bytes) = PercpuLiveNow(m);

        const int HeldPerCpu = 3;
        foreach (var (name, args) in new[] { ("hello", ""), ("counter", ""), ("counter_user", ""), ("bigarray", ""), ("cmod", ""),
                                             ("refhold", $"target=counter gets={HeldPerCpu} hold=1") })
            Insmod(m, name, args);
        var expected = new[]
        {
            Expected(m, "refhold"), Expected(m, "cmod"), Expected(m, "bigarray"), Expected(m, "counter_user", deps: "counter"),
            Expected(m, "counter", refcnt: HeldPerCpu * Cpus), Expected(m, "hello"),
        };
        AssertLsmod(m, expected);

        // Per CPU: a reference count for each module, and each per-CPU section rounded to 4
        // bytes (no module reserve), in one allocation each.
        var withSections = expected.Where(e => e.PerCpu > 0).ToList();
        var (liveLoaded, bytesLoaded) = PercpuLiveNow(m);
        Assert.Equal(live + expected.Length + withSections.Count, liveLoaded);
        Assert.Equal(bytes + expected.Length * RefcountBytesPerCpu + withSections.Sum(e => e.PerCpu), bytesLoaded);

        Assert.Equal(new[] { "refhold: released the held references: refcount 0" }, Rmmod(m, "refhold"));
        foreach (var name in new[] { "cmod", "bigarray", "counter_user", "counter", "hello" }) Rmmod(m, name);
        AssertSameState(before, State(m), "loading and unloading all samples at once");
        Assert.Empty(Lsmod(m));
    }

    [Fact]
    public void Users_and_references_keep_a_module_loaded_until_they_are_gone_at_smp8()
    {
        using var m = Boot(Cpus);
        WarmUp(m);
        var before = State(m);

        // A module whose exports another module uses cannot go.
        Insmod(m, "counter");
        Insmod(m, "counter_user");
        Assert.Equal("in use by counter_user", Refused(m, "rmmod", "counter"));
        Assert.Equal("a module named counter is already loaded", Refused(m, "insmod", "counter"));

        // References held on every CPU: busy with the exact sum, and the refusal changes nothing.
        const int Gets = 3;
        const long Held = Gets * Cpus;
        Assert.Equal(new[] { $"refhold: counter: refcount 0 -> {Held} after {Held} gets on {Cpus} CPUs" },
                     Insmod(m, "refhold", $"target=counter gets={Gets} hold=1"));
        Rmmod(m, "counter_user");
        var held = new[] { Expected(m, "refhold"), Expected(m, "counter", refcnt: Held) };
        AssertLsmod(m, held);
        Assert.Equal($"busy (refcnt={Held})", Refused(m, "rmmod", "counter"));
        AssertLsmod(m, held);
        // Still live after the refused unload: a new user links against it and uses it.
        Insmod(m, "counter_user");
        Rmmod(m, "counter_user");
        Assert.Equal($"busy (refcnt={Held})", Refused(m, "rmmod", "counter"));

        // Released by refhold's exit: now counter goes.
        Assert.Equal(new[] { "refhold: released the held references: refcount 0" }, Rmmod(m, "refhold"));
        AssertLsmod(m, Expected(m, "counter"));
        Assert.Matches(@"^counter: \d+ hits in all$", Assert.Single(Rmmod(m, "counter")));

        // Gets on every CPU, all put back from one CPU (per-CPU counts only mean their sum).
        const int PutCpu = 5;
        Insmod(m, "counter");
        Insmod(m, "refhold", $"target=counter gets=2 hold=1 put_cpu={PutCpu}");
        Assert.Equal($"busy (refcnt={2 * Cpus})", Refused(m, "rmmod", "counter"));
        Assert.Equal(new[] { "refhold: released the held references: refcount 0" }, Rmmod(m, "refhold"));
        // --wait with nothing held: unloads at once.
        var wait = Run(m, "rmmod --wait counter");
        Assert.DoesNotContain(wait, l => l.Contains("waiting", StringComparison.Ordinal));
        Assert.Equal("rmmod: counter unloaded", wait[^1]);

        Assert.Equal("not loaded (lsmod lists the loaded modules)", Refused(m, "rmmod", "counter"));
        AssertSameState(before, State(m), "the refused and the successful unloads");
        Assert.Empty(Lsmod(m));
    }

    [Fact]
    public void Failed_loads_and_bad_commands_leave_nothing_behind_at_smp8()
    {
        using var m = Boot(Cpus);
        WarmUp(m);
        var before = State(m);

        // Init fails after the module was linked, per-CPU memory and all: the module says why,
        // the shell gives the errno, and everything the load took is given back.
        foreach (var (name, args, said, errno) in new[]
        {
            ("refhold", "target=nosuchmodule", "refhold: no module named nosuchmodule", "-2 (ENOENT)"),
            ("hello", "nosuch=1", "hello: parameter 'nosuch': unknown parameter (the module has none)", "-2 (ENOENT)"),
            ("refhold", "gets=abc", "refhold: parameter 'gets': not a number", "-22 (EINVAL)"),
        })
        {
            var o = Run(m, $"insmod {name} {args}");
            Assert.Equal(new[] { said, $"insmod: {name}: error: percy_module_init failed: {errno}" }, o.Select(KernelContract.StripLogPrefix));
            AssertSameState(before, State(m), $"insmod {name} {args}");
        }

        // A module that fails in init after linking against counter does not keep counter in use.
        Insmod(m, "counter");
        var user = Run(m, "insmod counter_user nosuch=1");
        Assert.Equal("insmod: counter_user: error: percy_module_init failed: -2 (ENOENT)", user[^1]);
        AssertLsmod(m, Expected(m, "counter"));
        Assert.Single(Rmmod(m, "counter"));
        AssertSameState(before, State(m), "a failed init of a module using counter");

        Assert.StartsWith("no no_such_module.kmod in the boot image (it has: bigarray cmod counter counter_user hello refhold",
                          Refused(m, "insmod", "no_such_module"));
        Assert.Equal("module names use only a-z, 0-9 and _", Refused(m, "insmod", "Bad-Name"));
        Assert.Equal("not loaded (lsmod lists the loaded modules)", Refused(m, "rmmod", "hello"));
        foreach (var (command, usage) in new[] { ("insmod", "insmod: error: usage: insmod NAME [key=value ...]"),
                                                 ("rmmod", "rmmod: error: usage: rmmod [--wait] NAME"),
                                                 ("rmmod --wait", "rmmod: error: usage: rmmod [--wait] NAME"),
                                                 ("modinfo", "modinfo: error: usage: modinfo NAME") })
            Assert.Equal(new[] { usage }, Run(m, command));
        AssertSameState(before, State(m), "refused commands");
        Assert.Empty(Lsmod(m));
    }

    // modinfo prints the file and each .modinfo string as `tag: value` (Linux's layout),
    // checked against the strings of the module in the booted image.
    [Fact]
    public void Modinfo_prints_each_samples_metadata()
    {
        using var m = Boot(2);
        foreach (var name in new[] { "hello", "counter", "counter_user", "bigarray", "refhold", "cmod" })
        {
            var elf = ModuleIn(m, name);
            var strings = Encoding.ASCII.GetString(elf.SectionBytes(elf.SectionIndex(".modinfo"))).Split('\0', StringSplitOptions.RemoveEmptyEntries);
            var expected = new[] { $"filename: {name}.kmod" }.Concat(strings.Select(t => t[..t.IndexOf('=')] + ": " + t[(t.IndexOf('=') + 1)..]));
            Assert.Equal(expected, Run(m, $"modinfo {name}"));
            Assert.Contains($"name: {name}", expected);
        }
        Assert.Empty(Lsmod(m));                      // modinfo reads the file; it loads nothing
    }

    // No module reserve and no cap below the unit: cmod with its per-CPU section grown
    // (zero-filled) to exactly one unit loads, in a chunk of its own; 4 bytes more is refused.
    [Fact]
    public void A_per_cpu_section_as_large_as_a_unit_loads_and_a_larger_one_is_refused_at_smp4()
    {
        const int SmallCpus = 4;
        const ulong DefaultUnitVm = 1 << 20;    // docs/percpu.md: unless percpu.unit_vm= says otherwise
        byte[] cmod = PercyIso.ExtractFile(PercyIso.DefaultPath, $"{GrubConfig.ModulesDirectory}/cmod.kmod");
        var directory = Directory.CreateTempSubdirectory("percy-unit-");
        string? iso = null;
        try
        {
            var files = new[] { ("cmod_unit", DefaultUnitVm), ("cmod_over", DefaultUnitVm + (ulong)PerCpuGranule) }.Select(f =>
            {
                string path = Path.Combine(directory.FullName, f.Item1 + ".kmod");
                File.WriteAllBytes(path, Percy.Tests.Support.MalformedModules.WithPerCpuSize(cmod, f.Item1, f.Item2));
                return path;
            }).ToList();
            iso = PercyIso.WithModules(files);
            using var m = Boot(SmallCpus, iso);
            Assert.Contains(Run(m, "percpu stats"), l => l.EndsWith($" unit_vm={DefaultUnitVm}", StringComparison.Ordinal));
            WarmUp(m);
            // The first unit-sized load creates a second chunk, which stays (empty, with its
            // metadata) after the unload: the allocator keeps one empty chunk, as Linux does.
            Insmod(m, "cmod_unit");
            Rmmod(m, "cmod_unit");
            var before = State(m);
            var (live, bytes) = PercpuLiveNow(m);

            Assert.Equal(new[] { $"cmod: counted a call on every online CPU, and the kernel's Magic was right on each: {SmallCpus}" }, Insmod(m, "cmod_unit", logName: "cmod"));
            var unit = Expected(m, "cmod_unit");
            Assert.Equal((long)DefaultUnitVm, unit.PerCpu);
            AssertLsmod(m, unit);
            Assert.Equal((live + 2, bytes + (long)DefaultUnitVm + RefcountBytesPerCpu), PercpuLiveNow(m));
            Assert.Equal(new[] { $"cmod: calls counted: {SmallCpus}" }, Rmmod(m, "cmod_unit", logName: "cmod"));

            Assert.Equal($"its per-CPU section ({DefaultUnitVm + (ulong)PerCpuGranule} bytes) is larger than a unit (percpu.unit_vm={DefaultUnitVm})",
                         Refused(m, "insmod", "cmod_over"));
            AssertSameState(before, State(m), "a unit-sized per-CPU section loaded and unloaded, and a larger one refused");
            Assert.Empty(Lsmod(m));
        }
        finally
        {
            directory.Delete(recursive: true);
            if (iso != null) PercyIso.DeleteVariant(iso);
        }
    }

    [Fact]
    public void Twenty_bigarray_cycles_leave_the_statistics_unchanged_at_smp8()
    {
        using var m = Boot(Cpus);
        WarmUp(m);
        var before = State(m);
        string? offset = null;
        for (int cycle = 0; cycle < BigArrayCycles; cycle++)
        {
            var init = BigArrayInit.Match(Assert.Single(Insmod(m, "bigarray")));
            Assert.True(init.Success, $"cycle {cycle}: bigarray's init line");
            // First fit over the same free space: every cycle gets the same per-CPU area, so
            // nothing the previous cycles took is still held.
            offset ??= init.Groups["offset"].Value;
            Assert.Equal(offset, init.Groups["offset"].Value);
            Assert.Equal(BigArrayExit(), Rmmod(m, "bigarray"));
        }
        AssertSameState(before, State(m), $"{BigArrayCycles} insmod/rmmod cycles of bigarray");
        Assert.Empty(Lsmod(m));
    }
}
