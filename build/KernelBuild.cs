namespace Percy.Build;

/// <summary>
/// C# → native object (dotnet publish with NativeAOT), *.asm → objects (nasm), then one
/// linked ELF with symbols (ld) that GRUB loads through Multiboot2.
/// </summary>
internal static class KernelBuild
{
    private const string Configuration = "Release";
    private const string KernelProject = "Percy.Kernel.csproj";
    private const string LinkerScript = "arch/x86_64/linker.ld";
    private const string RuntimeIdentifier = "linux-x64";
    private const string NativeObjectDirectory = "native";

    // kernel/bin and kernel/obj hold build output, never sources.
    private static readonly string[] s_outputDirectories = ["bin", "obj"];

    private static string? s_builtElf;

    /// <summary>Builds the kernel (once per invocation) and returns the path of percy.elf.</summary>
    public static async Task<string> BuildAsync(CancellationToken cancellationToken)
    {
        if (s_builtElf is not null)
        {
            return s_builtElf;
        }

        await Deps.EnsureAsync(cancellationToken);
        string buildId = await BuildInfo.GetBuildIdAsync(cancellationToken);
        Directory.CreateDirectory(Paths.Objects);

        // Diagnostics of successful steps are printed after each step, not during it, so they
        // do not tear through the live progress display.
        var diagnostics = new List<string>();
        PerCpuSection percpu = await Ui.StepAsync("kernel: per-CPU declarations", _ => Task.FromResult(PerCpuGenerator.Generate()));
        await Ui.StepAsync("kernel: dotnet publish", _ => PublishAsync(buildId, diagnostics, cancellationToken));
        ShowDiagnostics(diagnostics);
        string managedObject = FindManagedObject();

        IReadOnlyList<string> sources = [.. FindAssemblySources(), PerCpuGenerator.GeneratedAssembly];
        List<string> asmObjects = await Ui.StepAsync($"kernel: nasm ({sources.Count} files)", _ => AssembleAsync(sources, diagnostics, cancellationToken));
        ShowDiagnostics(diagnostics);

        string elf = Paths.KernelElf;
        await Ui.StepAsync("kernel: ld", _ => LinkAsync([.. asmObjects, managedObject], elf, diagnostics, cancellationToken));
        ShowDiagnostics(diagnostics);
        await VerifyMultibootAsync(elf, cancellationToken);
        List<ElfSymbol> symbols = await ElfSymbols.ReadAsync(elf, "kernel", cancellationToken);
        PerCpuCheck.Verify(elf, symbols, percpu);
        KernelExportCheck.Verify(elf, symbols);

        Ui.Success($"kernel: {Paths.Display(elf)} ({Ui.FormatSize(new FileInfo(elf).Length)}, {BuildInfo.Version} {buildId})");
        s_builtElf = elf;
        return elf;
    }

    private static async Task PublishAsync(string buildId, List<string> diagnostics, CancellationToken cancellationToken)
    {
        string project = Path.Combine(Paths.Kernel, KernelProject);
        ToolResult result = await Tool.RunCheckedAsync(
            "dotnet",
            [
                "publish", project,
                "-c", Configuration,
                "--nologo",
                "-v:quiet",
                // Errors and warnings are printed once, not again in a closing summary.
                "-clp:NoSummary",
                // The live terminal logger would fight the spinner; output is captured anyway.
                "-tl:off",
                $"-p:PercyVersion={BuildInfo.Version}",
                $"-p:PercyBuildId={buildId}",
            ],
            "kernel: dotnet publish",
            "fix the C# errors above, then run ./build.sh kernel",
            cancellationToken);

        // Quiet verbosity prints only diagnostics, so anything left is a warning worth seeing.
        diagnostics.Add(result.Output);
    }

    // The object's directory depends on the target framework in the kernel's csproj; the
    // newest match is the one this publish produced or confirmed up to date.
    private static string FindManagedObject()
    {
        string configurationDirectory = Path.Combine(Paths.Kernel, "obj", Configuration);
        FileInfo? newest = Directory.Exists(configurationDirectory)
            ? new DirectoryInfo(configurationDirectory)
                .EnumerateFiles("*.o", SearchOption.AllDirectories)
                .Where(f => f.Directory?.Name == NativeObjectDirectory && f.Directory.Parent?.Name == RuntimeIdentifier)
                .OrderByDescending(f => f.LastWriteTimeUtc)
                .FirstOrDefault()
            : null;

        return newest?.FullName
            ?? throw new BuildException($"kernel: dotnet publish produced no native object under {Paths.Display(configurationDirectory)}/*/{RuntimeIdentifier}/{NativeObjectDirectory}/; check PublishAot and NativeLib=Static in kernel/{KernelProject}");
    }

    private static IReadOnlyList<string> FindAssemblySources()
    {
        var sources = new List<string>();
        foreach (string file in Directory.EnumerateFiles(Paths.Kernel, "*.asm", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(Paths.Kernel, file);
            string topDirectory = relative.Split(Path.DirectorySeparatorChar)[0];
            if (!s_outputDirectories.Contains(topDirectory))
            {
                sources.Add(file);
            }
        }

        if (sources.Count == 0)
        {
            throw new BuildException("kernel: no *.asm files under kernel/; the boot stub (kernel/arch/x86_64/boot.asm) is missing");
        }

        // Ordinal order keeps the link order, and so the image layout, stable across machines.
        sources.Sort(StringComparer.Ordinal);
        return sources;
    }

    private static async Task<List<string>> AssembleAsync(IReadOnlyList<string> sources, List<string> diagnostics, CancellationToken cancellationToken)
    {
        var objects = new List<string>(sources.Count);
        foreach (string source in sources)
        {
            // Mirror the source tree so boot.asm in two directories cannot collide.
            string relative = Path.GetRelativePath(Paths.Root, source);
            string output = Path.Combine(Paths.Objects, Path.ChangeExtension(relative, ".o"));
            Directory.CreateDirectory(Path.GetDirectoryName(output)!);

            string sourceDirectory = Path.GetDirectoryName(source)! + Path.DirectorySeparatorChar;
            ToolResult result = await Tool.RunCheckedAsync(
                "nasm",
                ["-f", "elf64", "-g", "-F", "dwarf", "-I", sourceDirectory, "-o", output, source],
                $"kernel: nasm {Paths.Display(source)}",
                "fix the assembly error above, then run ./build.sh kernel",
                cancellationToken);
            diagnostics.Add(result.Output);
            objects.Add(output);
        }

        return objects;
    }

    private static async Task LinkAsync(IReadOnlyList<string> objects, string elf, List<string> diagnostics, CancellationToken cancellationToken)
    {
        string script = Path.Combine(Paths.Kernel, LinkerScript);
        string map = Path.Combine(Paths.Objects, "percy.ld.map");
        // -S: no DWARF in the image. GRUB loads every section of a Multiboot2 kernel, and
        // the 250 KiB of debug sections were 15 of its CD reads (~20 ms) in every SeaBIOS
        // boot; nothing reads them (panic call traces use .symtab, which stays).
        ToolResult result = await Tool.RunCheckedAsync(
            "ld",
            ["-n", "-S", "-T", script, "-nostdlib", "-static", "-z", "noexecstack", $"-Map={map}", "-o", elf, .. objects],
            "kernel: ld",
            "an undefined symbol usually means a missing asm routine or runtime helper; fix it, then run ./build.sh kernel",
            cancellationToken);
        diagnostics.Add(result.Output);
    }

    // Catches a broken header or load address here rather than as a silent GRUB error in QEMU.
    private static async Task VerifyMultibootAsync(string elf, CancellationToken cancellationToken)
    {
        ToolResult result = await Tool.RunAsync("grub-file", ["--is-x86-multiboot2", elf], cancellationToken);
        if (!result.Succeeded)
        {
            throw new BuildException(
                $"kernel: {Paths.Display(elf)} is not a valid Multiboot2 image; check the header in kernel/arch/x86_64/boot.asm and kernel/{LinkerScript}",
                result.Output);
        }
    }

    private static void ShowDiagnostics(List<string> outputs) => Ui.ToolWarnings(outputs);
}
