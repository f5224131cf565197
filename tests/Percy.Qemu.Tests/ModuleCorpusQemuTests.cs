using System.Text;
using Percy.Harness;
using Percy.Tests.Support;
using Xunit;
using static Percy.Qemu.Tests.ModuleShell;

namespace Percy.Qemu.Tests;

/// <summary>
/// Issue 7's "Bad input" on a running kernel: every case of the malformed-module corpus
/// (Support/MalformedModules.cs, made from the hello, cmod and counter modules of the image
/// under test) is packed into the ISO the way `./build.sh iso --add-module FILE` packs a
/// file, and insmod of it must print exactly one line, `insmod: NAME: error: REASON`, with
/// the words the corpus gives; `percpu stats`, `mem` and `lsmod` must read the same after
/// each; and the kernel must still load and unload hello at the end. The corpus is split
/// in two test classes (the cases made from cmod, built by gcc, and the rest), which xunit
/// runs side by side.
/// </summary>
public abstract class ModuleCorpusQemuTests
{
    protected const string FromCmod = "bad_c_";

    const int Cpus = 4;

    // The kernel keeps the first MaxModules Multiboot2 modules and ignores the rest with a
    // warning. With the font and the samples already in the image, the corpus needs a few boots.
    const int KernelMaxBootModules = Percy.Kernel.Multiboot.BootInformation.MaxModules;
    static readonly string TooManyModules = $"more than {KernelMaxBootModules} modules";

    // Every case `which` selects, in as few boots as the boot-module limit allows.
    protected static void RunCorpus(Func<MalformedModule, bool> which)
    {
        string baseIso = PercyIso.DefaultPath;
        byte[] Kmod(string name) => PercyIso.ExtractFile(baseIso, $"{GrubConfig.ModulesDirectory}/{name}.kmod");
        var corpus = MalformedModules.Build(Kmod("hello"), Kmod("cmod"), Kmod("counter")).Where(which).ToList();
        Assert.NotEmpty(corpus);
        string grubCfg = Encoding.UTF8.GetString(PercyIso.ExtractFile(baseIso, "/boot/grub/grub.cfg"));
        int inImage = grubCfg.Split('\n').Count(l => l.TrimStart().StartsWith("module2 ", StringComparison.Ordinal));
        int perBoot = KernelMaxBootModules - inImage;
        Assert.True(perBoot > 0, $"the image already has {inImage} boot modules");

        var directory = Directory.CreateTempSubdirectory("percy-corpus-");
        try
        {
            foreach (var batch in corpus.Chunk(perBoot))
            {
                var files = batch.Select(c =>
                {
                    string path = Path.Combine(directory.FullName, c.FileName);
                    File.WriteAllBytes(path, c.Bytes);
                    return path;
                }).ToList();
                string iso = PercyIso.WithModules(files, baseIso);
                try
                {
                    RunBatch(iso, batch);
                }
                finally
                {
                    PercyIso.DeleteVariant(iso);
                }
            }
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }

    static void RunBatch(string iso, MalformedModule[] batch)
    {
        // The image holds the corpus as written (xorriso packed what the generator made).
        Assert.Equal(batch[0].Bytes, PercyIso.ExtractFile(iso, $"{GrubConfig.ModulesDirectory}/{batch[0].FileName}"));

        using var m = Boot(Cpus, iso);
        Assert.DoesNotContain(m.Lines, l => l.Text.Contains(TooManyModules, StringComparison.Ordinal));
        WarmUp(m);
        var before = State(m);
        Assert.Empty(Lsmod(m));

        var unexplained = new List<string>();
        foreach (var c in batch)
        {
            if (c.Requires != null) Insmod(m, c.Requires);
            string reason = Refused(m, "insmod", c.Name);
            if (!c.Explains(reason)) unexplained.Add($"{c.Name}: '{reason}' does not say '{c.Reason}'");
            if (c.Requires != null) Rmmod(m, c.Requires);
            AssertSameState(before, State(m), $"insmod {c.Name}");
        }
        Assert.Empty(Lsmod(m));
        Assert.True(unexplained.Count == 0, string.Join('\n', unexplained));

        // Still a working kernel.
        Assert.Matches($@"^hello: hello from cpu \d+ of {Cpus} possible$", Assert.Single(Insmod(m, "hello")));
        Rmmod(m, "hello");
        AssertSameState(before, State(m), "the corpus and a final insmod/rmmod hello");
    }
}

public class ModuleCorpusFromCmodQemuTests : ModuleCorpusQemuTests
{
    [Fact]
    public void Every_malformed_cmod_is_refused_in_one_line_and_changes_nothing_at_smp4() =>
        RunCorpus(c => c.Name.StartsWith(FromCmod, StringComparison.Ordinal));
}

public class ModuleCorpusFromIlcQemuTests : ModuleCorpusQemuTests
{
    [Fact]
    public void Every_other_malformed_module_is_refused_in_one_line_and_changes_nothing_at_smp4() =>
        RunCorpus(c => !c.Name.StartsWith(FromCmod, StringComparison.Ordinal));
}
