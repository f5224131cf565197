using System.Text.Json;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Emit;
using Percy.Kernel.Modules;

namespace Percy.Build;

/// <summary>A module's folder, modules/&lt;name&gt;/, with its sources in one language.</summary>
internal sealed record ModuleSource(string Name, bool IsCSharp, IReadOnlyList<string> Files)
{
    public string Context => $"modules/{Name}";

    public string Objects => Path.Combine(Paths.Objects, "modules", Name);

    public string Kmod => Path.Combine(ModulesBuild.Output, Name + ModulesBuild.Extension);
}

/// <summary>A built module: its file, and what its checks and the size report need.</summary>
internal sealed record BuiltModule(ModuleSource Source, ElfObject Elf, IReadOnlyList<ElfSymbol> Symbols, IReadOnlyList<string> Exports);

/// <summary>
/// The `modules` target: every modules/&lt;name&gt;/ folder becomes iso/out/modules/&lt;name&gt;.kmod,
/// an ELF64 relocatable object the kernel's loader links in (docs/modules.md).
/// A C# module is compiled in this process — Roslyn, with the module as its own system module
/// (kernel/runtime's shared part + modules/sdk + its sources + generated code) — then ILC
/// (NativeAOT) makes the object; NASM assembles the generated .modinfo, .percy_exports and
/// per-CPU section; `ld -r` joins them. A C module is compiled by gcc. Last, `objcopy` keeps
/// only the entry points and exports global, and every module's undefined symbols are
/// checked against the kernel's export table and the other modules' exports.
/// No MSBuild: one `dotnet publish` costs ~6 s even when nothing changed, for each project.
/// </summary>
internal static class ModulesBuild
{
    public const string Extension = ".kmod";
    public const string SdkDirectoryName = "sdk";

    public static string SourceRoot => Path.Combine(Paths.Root, "modules");

    public static string Output => Path.Combine(Paths.Out, "modules");

    private static string Sdk => Path.Combine(SourceRoot, SdkDirectoryName);

    // The ld -r script: one section per kind, unwinding data dropped (modules/sdk/module.ld).
    private static string LinkerScript => Path.Combine(Sdk, "module.ld");

    // Kernel sources every C# module compiles too: the part of Percy's corlib that is not
    // the kernel's (System types, the managed runtime helpers) and the pure code the SDK
    // uses (formatting, memory moves, per-CPU attribute and unit arithmetic). Shared as
    // source, never copied; kernel/runtime/KernelRuntime.cs and Startup.cs stay the kernel's.
    private static readonly string[] s_sharedKernelSources =
    [
        "kernel/runtime/System.cs",
        "kernel/runtime/Runtime.cs",
        "kernel/lib/Memory.cs",
        "kernel/lib/TextLine.cs",
        "kernel/percpu/DefinePerCpuAttribute.cs",
        "kernel/percpu/PerCpuLayout.cs",
        "kernel/mm/AddressSpace.cs",
        "kernel/lib/KernelCommandLine.cs",   // PerCpuLayout.ReadOptions names it; no module code uses it
    ];

    // As in kernel/Percy.Kernel.csproj: externs without DllImport (RuntimeImport), pointers to
    // managed types, fields the compiler reads or writes but C# does not see doing so.
    private static readonly string[] s_suppressedWarnings = ["CS0626", "CS8500", "CS0169", "CS0649"];

    // C modules: the flags the ABI needs (docs/modules.md): code within ±2 GiB of the kernel,
    // no red zone (interrupts use the stack), no unwind tables, no stack protector (it reads
    // the canary through %fs, which Percy does not set up), no CET notes.
    private static readonly string[] s_gccFlags =
    [
        "-c", "-O2", "-mcmodel=kernel", "-fno-pic", "-mno-red-zone", "-ffreestanding",
        "-fno-asynchronous-unwind-tables", "-fno-stack-protector", "-fcf-protection=none",
        "-fno-common", "-std=gnu11", "-Wall", "-Wextra",
    ];

    private const string IlcPackage = "runtime.linux-x64.microsoft.dotnet.ilcompiler";
    private const string IlcAssetsKey = "runtime.linux-x64.Microsoft.DotNet.ILCompiler/";

    private static IReadOnlyList<string>? s_built;

    /// <summary>Builds every module (once per invocation) and returns the .kmod paths.</summary>
    public static async Task<IReadOnlyList<string>> BuildAsync(CancellationToken cancellationToken)
    {
        if (s_built is not null)
        {
            return s_built;
        }

        await Deps.EnsureAsync(cancellationToken);
        IReadOnlyList<ModuleSource> modules = Discover();
        Directory.CreateDirectory(Output);
        RemoveStaleOutputs(modules);
        var csharp = modules.Where(m => m.IsCSharp).ToList();
        var c = modules.Where(m => !m.IsCSharp).ToList();
        var diagnostics = new List<string>();
        var objects = modules.ToDictionary(m => m.Name, _ => new List<string>());

        if (csharp.Count > 0)
        {
            string ilc = await FindIlcAsync(cancellationToken);
            // Roslyn compilations are thread-safe; the shared sources are parsed once, first.
            var compiled = await Ui.StepAsync($"modules: C# ({Count(csharp.Count, "module")})", _ => Task.Run(
                () =>
                {
                    SharedTrees();
                    try
                    {
                        return csharp.AsParallel().AsOrdered().WithCancellation(cancellationToken).Select(m => Compile(m, diagnostics)).ToList();
                    }
                    catch (AggregateException e) when (e.InnerExceptions.All(x => x is BuildException))
                    {
                        // Every module's errors, not just the first to fail.
                        var failures = e.InnerExceptions.Cast<BuildException>().ToList();
                        throw new BuildException(
                            failures.Count == 1 ? failures[0].Message : $"modules: {failures.Count} modules failed to compile; fix the errors above, then run ./build.sh modules",
                            string.Join("\n", failures.Select(f => f.ToolOutput).Where(o => o is not null)));
                    }
                },
                cancellationToken));
            ShowDiagnostics(diagnostics);
            await Ui.StepAsync($"modules: ilc ({Count(csharp.Count, "module")})", _ => ParallelAsync(compiled, async m =>
                objects[m.Source.Name].Add(await RunIlcAsync(ilc, m.Source, m.Assembly, diagnostics, cancellationToken))));
            ShowDiagnostics(diagnostics);
            await Ui.StepAsync($"modules: nasm ({Count(csharp.Count, "file")})", _ => ParallelAsync(compiled, async m =>
                objects[m.Source.Name].Add(await AssembleAsync(m.Source, m.AsmSource, diagnostics, cancellationToken))));
            ShowDiagnostics(diagnostics);
        }

        if (c.Count > 0)
        {
            string[] defines = CDefines();
            await Ui.StepAsync($"modules: gcc ({Count(c.Count, "module")})", _ => ParallelAsync(c, async m =>
            {
                objects[m.Name].AddRange(await CompileCAsync(m, defines, diagnostics, cancellationToken));
                objects[m.Name].Add(await AssembleAsync(m, WriteNameOnlyAssembly(m), diagnostics, cancellationToken));
            }));
            ShowDiagnostics(diagnostics);
        }

        var built = new List<BuiltModule>();
        await Ui.StepAsync($"modules: ld -r ({Count(modules.Count, "module")})", _ => ParallelAsync(modules, async m =>
        {
            BuiltModule module = await LinkAsync(m, objects[m.Name], diagnostics, cancellationToken);
            lock (built)
            {
                built.Add(module);
            }
        }));
        ShowDiagnostics(diagnostics);

        built.Sort((a, b) => StringComparer.Ordinal.Compare(a.Source.Name, b.Source.Name));
        Check(built);
        foreach (BuiltModule module in built)
        {
            Ui.Success($"modules: {Paths.Display(module.Source.Kmod)} ({DescribeSize(module)})");
        }

        s_built = built.Select(m => m.Source.Kmod).ToList();
        return s_built;
    }

    private static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n} {noun}s";

    // modules/<name>/ for every folder but sdk/: *.cs (C#) or *.c (C), not both.
    private static List<ModuleSource> Discover()
    {
        if (!Directory.Exists(SourceRoot))
        {
            throw new BuildException($"modules: {Paths.Display(SourceRoot)} is missing; restore it from git");
        }

        var modules = new List<ModuleSource>();
        foreach (string directory in Directory.EnumerateDirectories(SourceRoot).Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileName(directory);
            if (name == SdkDirectoryName)
            {
                continue;
            }

            List<string> cs = SourcesIn(directory, "*.cs"), cFiles = SourcesIn(directory, "*.c");
            string? problem = !System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z][a-z0-9_]*$")
                ? "a module's name (its folder) must be lower-case letters, digits and '_', starting with a letter"
                : cs.Count > 0 && cFiles.Count > 0 ? "holds both C# and C sources; a module is one or the other"
                : cs.Count + cFiles.Count == 0 ? "holds no *.cs or *.c sources" : null;
            if (problem is not null)
            {
                throw new BuildException($"modules: {Paths.Display(directory)}: {problem}");
            }

            modules.Add(new ModuleSource(name, cs.Count > 0, cs.Count > 0 ? cs : cFiles));
        }

        if (modules.Count == 0)
        {
            throw new BuildException($"modules: no module folders under {Paths.Display(SourceRoot)}");
        }

        return modules;
    }

    // A module's sources, ordinal order, not under bin/ or obj/.
    private static List<string> SourcesIn(string directory, string pattern)
        => Directory.EnumerateFiles(directory, pattern, SearchOption.AllDirectories)
            .Where(f => !Path.GetRelativePath(directory, f).Split(Path.DirectorySeparatorChar).Any(p => p is "bin" or "obj"))
            .Order(StringComparer.Ordinal)
            .ToList();

    // A .kmod whose folder is gone must not reach the ISO.
    private static void RemoveStaleOutputs(IReadOnlyList<ModuleSource> modules)
    {
        var expected = modules.Select(m => m.Kmod).ToHashSet(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(Output, "*" + Extension).Where(f => !expected.Contains(f)))
        {
            File.Delete(file);
        }
    }

    private sealed record CompiledModule(ModuleSource Source, string Assembly, string AsmSource);

    private static IReadOnlyList<SyntaxTree>? s_sharedTrees;

    // Parsed once, shared by every module's compilation (syntax trees are immutable).
    private static IReadOnlyList<SyntaxTree> SharedTrees()
        => s_sharedTrees ??= s_sharedKernelSources.Select(f => Path.Combine(Paths.Root, f))
            .Concat(SourcesIn(Sdk, "*.cs"))
            .Select(Parse)
            .ToList();

    private static SyntaxTree Parse(string file)
        => CSharpSyntaxTree.ParseText(File.ReadAllText(file), PerCpuGenerator.ParseOptions, Paths.Display(file));

    // Roslyn, in this process: the module's sources read for per-CPU declarations and module
    // attributes, the generated C# added, IL emitted; the generated asm written beside it.
    private static CompiledModule Compile(ModuleSource module, List<string> diagnostics)
    {
        Directory.CreateDirectory(module.Objects);
        var own = module.Files.Select(Parse).ToList();
        var options = new CSharpCompilationOptions(
            OutputKind.DynamicallyLinkedLibrary,
            allowUnsafe: true,
            optimizationLevel: OptimizationLevel.Release,
            deterministic: true,
            specificDiagnosticOptions: s_suppressedWarnings.ToDictionary(w => w, _ => ReportDiagnostic.Suppress));
        CSharpCompilation compilation = CSharpCompilation.Create(module.Name, [.. SharedTrees(), .. own], references: [], options);

        PerCpuSection percpu = PerCpuGenerator.Analyze(compilation, own, PerCpuMode.Module, module.Context);
        ModuleDescription description = ModuleGenerator.WithPerCpuExports(
            ModuleGenerator.Describe(module.Name, compilation, own, module.Context), percpu);

        var generated = new List<SyntaxTree>();
        foreach (var (file, text) in new[]
        {
            ("ThisModule.g.cs", ModuleGenerator.EmitCSharp(description, percpu, module.Context)),
            ("PerCpu.g.cs", PerCpuGenerator.EmitModuleCSharp(percpu, module.Context)),
        })
        {
            string path = Path.Combine(module.Objects, file);
            PerCpuGenerator.WriteIfChanged(path, text);
            if (text.Length > 0)
            {
                generated.Add(CSharpSyntaxTree.ParseText(text, PerCpuGenerator.ParseOptions, Paths.Display(path)));
            }
        }

        string asm = Path.Combine(module.Objects, "module.asm");
        PerCpuGenerator.WriteIfChanged(asm, string.Join('\n',
            $"; Generated by the module build for {module.Context}: ./build.sh modules rewrites it.",
            "bits 64",
            ModuleGenerator.EmitAssembly(description),
            PerCpuGenerator.EmitModuleAssembly(percpu, module.Context),
            "section .note.GNU-stack noalloc noexec nowrite progbits",
            string.Empty));

        string assembly = Path.Combine(module.Objects, module.Name + ".dll");
        EmitResult result;
        using (FileStream stream = File.Create(assembly))
        {
            // ILC wants the runtime version of a corlib in the metadata, as -runtimemetadataversion gives it.
            result = compilation.AddSyntaxTrees(generated).Emit(stream, options: new EmitOptions(runtimeMetadataVersion: "v4.0.30319"));
        }

        var errors = result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error).Select(d => d.ToString()).ToList();
        if (errors.Count > 0)
        {
            throw new BuildException($"{module.Context}: the C# does not compile; fix the errors above, then run ./build.sh modules", string.Join("\n", errors));
        }

        lock (diagnostics)
        {
            diagnostics.AddRange(result.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Warning).Select(d => d.ToString()));
        }

        return new CompiledModule(module, assembly, asm);
    }

    // IL → x86-64 ELF object. The module is its own system module; --nativelib needs no Main
    // and emits [RuntimeExport] methods under their plain names. --noinlinetls drops the
    // thread-static region ILC otherwise always emits (.tdata: Percy has no TLS). No debug
    // info: modules stay small, and the loader needs only the symbol table.
    private static async Task<string> RunIlcAsync(string ilc, ModuleSource module, string assembly, List<string> diagnostics, CancellationToken cancellationToken)
    {
        string output = Path.Combine(module.Objects, module.Name + ".ilc.o");
        ToolResult result = await Tool.RunCheckedAsync(
            ilc,
            [
                assembly, $"-o:{output}", "--targetos:linux", "--targetarch:x64", "-O", "--nativelib",
                $"--systemmodule:{module.Name}", "--instruction-set:x86-64", "--methodbodyfolding:all", "--noinlinetls",
                $"--map:{Path.Combine(module.Objects, module.Name + ".map.xml")}",
            ],
            $"{module.Context}: ilc",
            "a missing runtime type or helper is named above; the module may use only what kernel/runtime's shared part and modules/sdk define",
            cancellationToken);
        Collect(diagnostics, result.Output);
        return output;
    }

    private static async Task<string> AssembleAsync(ModuleSource module, string source, List<string> diagnostics, CancellationToken cancellationToken)
    {
        string output = Path.ChangeExtension(source, ".asm.o");
        ToolResult result = await Tool.RunCheckedAsync(
            "nasm",
            // Paths relative to the repository (the working directory): the object's file symbol
            // then names the source the same on every machine.
            ["-f", "elf64", "-o", Paths.Display(output), Paths.Display(source)],
            $"{module.Context}: nasm {Paths.Display(source)}",
            "the generated asm is wrong: a bug in build/ModuleGenerator.cs or build/PerCpuGenerator.cs",
            cancellationToken);
        Collect(diagnostics, result.Output);
        return output;
    }

    // percy_module.h's per-CPU address constants, read from the kernel's C# (PerCpuLayout)
    // rather than restated in C.
    private static readonly (string Macro, string Field)[] s_cConstants =
    [
        ("PERCY_LOCAL_WINDOW_BASE", "LocalBase"),
        ("PERCY_PER_CPU_BASE", "RegionBase"),
        ("PERCY_UNIT_STRIDE", "UnitStride"),
    ];

    private const string LayoutType = "Percy.Kernel.Percpu.PerCpuLayout";

    private static string[] CDefines()
    {
        CSharpCompilation shared = CSharpCompilation.Create("constants", SharedTrees(), references: [], new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        INamedTypeSymbol layout = shared.GetTypeByMetadataName(LayoutType)
            ?? throw new BuildException($"modules: {LayoutType} is not in the shared kernel sources");
        return s_cConstants.Select(c => layout.GetMembers(c.Field).OfType<IFieldSymbol>().FirstOrDefault()?.ConstantValue is ulong value
                ? $"-D{c.Macro}=0x{value:x}UL"
                : throw new BuildException($"modules: {LayoutType}.{c.Field} is not a ulong constant; percy_module.h needs it"))
            .ToArray();
    }

    // A C module's .modinfo gets its name from the build, as a C# module's does.
    private static string WriteNameOnlyAssembly(ModuleSource module)
    {
        string asm = Path.Combine(module.Objects, "module.asm");
        PerCpuGenerator.WriteIfChanged(asm, string.Join('\n',
            $"; Generated by the module build for {module.Context}: ./build.sh modules rewrites it.",
            ModuleGenerator.EmitAssembly(ModuleDescription.NameOnly(module.Name)),
            "section .note.GNU-stack noalloc noexec nowrite progbits",
            string.Empty));
        return asm;
    }

    private static async Task<List<string>> CompileCAsync(ModuleSource module, string[] defines, List<string> diagnostics, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(module.Objects);
        var outputs = new List<string>();
        foreach (string source in module.Files)
        {
            string output = Path.Combine(module.Objects, Path.GetFileName(source) + ".o");
            ToolResult result = await Tool.RunCheckedAsync(
                "gcc",
                [.. s_gccFlags, .. defines, "-I", Paths.Display(Sdk), "-o", Paths.Display(output), Paths.Display(source)],
                $"{module.Context}: gcc {Paths.Display(source)}",
                "fix the C errors above, then run ./build.sh modules",
                cancellationToken);
            Collect(diagnostics, result.Output);
            outputs.Add(output);
        }

        return outputs;
    }

    // ld -r joins the objects into one, with the module's section layout; objcopy then makes
    // every symbol local except the entry points and the exports, so a .kmod's global
    // symbols are exactly its interface (and its undefined ones are what it needs).
    private static async Task<BuiltModule> LinkAsync(ModuleSource module, IReadOnlyList<string> objects, List<string> diagnostics, CancellationToken cancellationToken)
    {
        string joined = Path.Combine(module.Objects, module.Name + ".joined.o");
        ToolResult link = await Tool.RunCheckedAsync(
            "ld",
            ["-r", "-T", LinkerScript, "-o", joined, .. objects],
            $"{module.Context}: ld -r",
            "see the linker's message above",
            cancellationToken);
        Collect(diagnostics, link.Output);

        ElfObject joinedElf = ReadElf(module, joined);
        IReadOnlyList<string> exports = joinedElf.Strings(ModuleGenerator.ExportsSection);
        string[] keep = [ModuleGenerator.InitSymbol, ModuleGenerator.ExitSymbol, .. exports];
        ToolResult copy = await Tool.RunCheckedAsync(
            "objcopy",
            [.. keep.Select(k => $"--keep-global-symbol={k}"), joined, module.Kmod],
            $"{module.Context}: objcopy",
            "objcopy comes with binutils; run ./build.sh deps",
            cancellationToken);
        Collect(diagnostics, copy.Output);

        List<ElfSymbol> symbols = await ElfSymbols.ReadAsync(module.Kmod, module.Context, cancellationToken);
        return new BuiltModule(module, ReadElf(module, module.Kmod), symbols, exports);
    }

    private static ElfObject ReadElf(ModuleSource module, string file)
        => ElfObject.Read(file, out string? problem)
            ?? throw new BuildException($"{module.Context}: {Paths.Display(file)}: {problem}");

    // What the loader will insist on, checked now: an x86-64 relocatable object with both
    // entry points, its exports defined (per-CPU ones in .data..percpu), no TLS, and every
    // undefined symbol exported by the kernel or by exactly one other module.
    private static void Check(IReadOnlyList<BuiltModule> modules)
    {
        var problems = new List<string>();
        var kernel = KernelExportCheck.Exports().Select(e => e.Name).ToHashSet(StringComparer.Ordinal);
        var exporters = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (BuiltModule m in modules)
        {
            foreach (string export in m.Exports)
            {
                if (!exporters.TryAdd(export, m.Source.Name))
                {
                    problems.Add($"{m.Source.Context}: exports {export}, which {exporters[export]} exports too");
                }
            }
        }

        foreach (BuiltModule m in modules)
        {
            string where = m.Source.Context;
            if (m.Elf.Type != ElfObject.Relocatable || m.Elf.Machine != ElfObject.MachineX86_64)
            {
                problems.Add($"{where}: not an x86-64 relocatable object (type {m.Elf.Type}, machine {m.Elf.Machine})");
            }

            if (m.Elf.Sections.FirstOrDefault(s => (s.Flags & ElfSection.Tls) != 0) is { } tls)
            {
                problems.Add($"{where}: section {tls.Name} is thread-local; Percy has no TLS ([ThreadStatic] is not for modules)");
            }

            var defined = m.Symbols.Where(s => s.Global && s.Defined).ToDictionary(s => s.Name, StringComparer.Ordinal);
            foreach (string entry in new[] { ModuleGenerator.InitSymbol, ModuleGenerator.ExitSymbol }.Where(e => !defined.ContainsKey(e)))
            {
                problems.Add($"{where}: does not define {entry}");
            }

            foreach (string export in m.Exports)
            {
                if (!defined.TryGetValue(export, out ElfSymbol? symbol))
                {
                    problems.Add($"{where}: exports {export} but does not define it");
                }
                else if (export.StartsWith(PerCpuGenerator.SymbolPrefix, StringComparison.Ordinal) != (symbol.Section == PerCpuGenerator.SectionName))
                {
                    problems.Add($"{where}: exports {export} from {symbol.Section}: per_cpu__ symbols, and only they, live in {PerCpuGenerator.SectionName}");
                }
            }

            foreach (ElfSymbol needed in m.Symbols.Where(s => !s.Defined))
            {
                if (!kernel.Contains(needed.Name) && (!exporters.TryGetValue(needed.Name, out string? by) || by == m.Source.Name))
                {
                    problems.Add($"{where}: needs {needed.Name}, which neither the kernel (kernel/modules/KernelExportTable.cs) nor another module exports");
                }
            }
        }

        if (problems.Count > 0)
        {
            throw new BuildException("modules: the modules would not load", string.Join("\n", problems));
        }
    }

    // "6.2 KiB: text 1984, rodata 80, data 1136, bss 16, per-CPU 16800 bytes; exports 2"
    private static string DescribeSize(BuiltModule m)
    {
        ulong Sum(Func<ElfSection, bool> which) => (ulong)m.Elf.Sections.Where(s => s.IsAllocated && which(s)).Sum(s => (long)s.Size);
        ulong percpu = Sum(s => s.Name == PerCpuGenerator.SectionName);
        ulong text = Sum(s => (s.Flags & ElfSection.Exec) != 0);
        ulong rodata = Sum(s => (s.Flags & (ElfSection.Exec | ElfSection.Write)) == 0);
        ulong bss = Sum(s => s.Type == ElfSection.NoBits);
        ulong data = Sum(s => (s.Flags & ElfSection.Write) != 0 && s.Type != ElfSection.NoBits) - percpu;
        string exports = m.Exports.Count > 0 ? $"; exports {m.Exports.Count}" : string.Empty;
        return $"{Ui.FormatSize(new FileInfo(m.Source.Kmod).Length)}: text {text}, rodata {rodata}, data {data}, bss {bss}, per-CPU {percpu} bytes{exports}";
    }

    // The ILCompiler the kernel's publish restored (its version from kernel/obj's assets
    // file), else the newest in the NuGet cache; a fresh machine gets it by restoring the
    // kernel project, as `dotnet publish` would.
    private static async Task<string> FindIlcAsync(CancellationToken cancellationToken)
    {
        string? ilc = LocateIlc();
        if (ilc is null)
        {
            await Ui.StepAsync("modules: dotnet restore (ILCompiler)", _ => Tool.RunCheckedAsync(
                "dotnet",
                ["restore", Path.Combine(Paths.Kernel, "Percy.Kernel.csproj"), "--nologo", "-v:quiet", "-tl:off"],
                "modules: dotnet restore",
                "NuGet could not provide the ILCompiler package; check the network and ~/.nuget",
                cancellationToken));
            ilc = LocateIlc();
        }

        return ilc ?? throw new BuildException($"modules: no ILCompiler in {PackagesRoot()}/{IlcPackage}/ even after a restore; run ./build.sh kernel once");
    }

    private static string PackagesRoot()
        => Environment.GetEnvironmentVariable("NUGET_PACKAGES")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string? LocateIlc()
    {
        string package = Path.Combine(PackagesRoot(), IlcPackage);
        if (!Directory.Exists(package))
        {
            return null;
        }

        string IlcOf(string version) => Path.Combine(package, version, "tools", "ilc");
        string? kernelVersion = KernelIlcVersion();
        if (kernelVersion is not null && File.Exists(IlcOf(kernelVersion)))
        {
            return IlcOf(kernelVersion);
        }

        return Directory.EnumerateDirectories(package)
            .Select(Path.GetFileName)
            .Where(v => v is not null && Version.TryParse(v, out _) && File.Exists(IlcOf(v)))
            .OrderByDescending(v => Version.Parse(v!))
            .Select(v => IlcOf(v!))
            .FirstOrDefault();
    }

    private static string? KernelIlcVersion()
    {
        string assets = Path.Combine(Paths.Kernel, "obj", "project.assets.json");
        if (!File.Exists(assets))
        {
            return null;
        }

        using JsonDocument document = JsonDocument.Parse(File.ReadAllText(assets));
        return document.RootElement.TryGetProperty("libraries", out JsonElement libraries)
            ? libraries.EnumerateObject().Select(p => p.Name)
                .FirstOrDefault(n => n.StartsWith(IlcAssetsKey, StringComparison.OrdinalIgnoreCase))?[IlcAssetsKey.Length..]
            : null;
    }

    // At most one tool per core: CI has two.
    private static async Task ParallelAsync<T>(IEnumerable<T> items, Func<T, Task> work)
    {
        using var gate = new SemaphoreSlim(Environment.ProcessorCount);
        await Task.WhenAll(items.Select(async item =>
        {
            await gate.WaitAsync();
            try
            {
                await work(item);
            }
            finally
            {
                gate.Release();
            }
        }));
    }

    private static void Collect(List<string> diagnostics, string output)
    {
        lock (diagnostics)
        {
            diagnostics.Add(output);
        }
    }

    private static void ShowDiagnostics(List<string> outputs) => Ui.ToolWarnings(outputs);
}
