using System.CommandLine;
using System.Globalization;
using System.CommandLine.Parsing;

namespace Percy.Build;

/// <summary>Command-line wiring: one subcommand per target; the work lives in the target classes.</summary>
internal static class Program
{
    private const string DriverName = "build";

    public static async Task<int> Main(string[] args)
    {
        RootCommand root = CreateRootCommand();
        if (args.Length == 0)
        {
            // A bare ./build.sh is a request for orientation, not an error to decode.
            root.Parse(["--help"]).Invoke();
            return ExitCodes.Usage;
        }

        ParseResult parseResult = root.Parse(args);
        if (parseResult.Errors.Count > 0)
        {
            ReportUsageErrors(parseResult);
            return ExitCodes.Usage;
        }

        try
        {
            return await parseResult.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (BuildException e)
        {
            if (e.ToolOutput is not null)
            {
                Ui.ToolOutput(e.ToolOutput);
            }

            Ui.Error(e.Message);
            return e.ExitCode;
        }
        catch (OperationCanceledException)
        {
            Ui.Error($"{DriverName}: interrupted");
            return ExitCodes.Interrupted;
        }
    }

    private static RootCommand CreateRootCommand()
    {
        var root = new RootCommand("Percy build driver: builds the kernel and its ISO, runs it in QEMU, runs the tests.");
        root.Subcommands.Add(CreateDepsCommand());
        root.Subcommands.Add(CreateKernelCommand());
        root.Subcommands.Add(CreateModulesCommand());
        root.Subcommands.Add(CreateIsoCommand());
        root.Subcommands.Add(CreateRunCommand());
        root.Subcommands.Add(CreateTestCommand());
        root.Subcommands.Add(CreateBenchCommand());
        root.Subcommands.Add(CreateCleanCommand());
        return root;
    }

    private static Command CreateDepsCommand()
    {
        var command = new Command("deps", "Check the host packages (dpkg); install missing ones when root, else print the apt-get command.");
        command.SetAction(async (_, cancellationToken) =>
        {
            await Deps.EnsureAsync(cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateKernelCommand()
    {
        var command = new Command("kernel", "Build iso/out/percy.elf: dotnet publish (NativeAOT), nasm, ld.");
        command.SetAction(async (_, cancellationToken) =>
        {
            await KernelBuild.BuildAsync(cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateModulesCommand()
    {
        var command = new Command("modules", "Build every modules/<name>/ into iso/out/modules/<name>.kmod: Roslyn + ilc (C#) or gcc (C), nasm, ld -r.");
        command.SetAction(async (_, cancellationToken) =>
        {
            await ModulesBuild.BuildAsync(cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateIsoCommand()
    {
        Option<string> cmdline = CreateCmdlineOption();
        var modules = new Option<FileInfo[]>("--add-module")
        {
            Description = "Put FILE into /boot/modules/ in the ISO and load it as a Multiboot2 module (repeatable).",
            HelpName = "FILE",
            DefaultValueFactory = _ => [],
        };
        modules.Validators.Add(result =>
        {
            foreach (FileInfo module in result.GetValueOrDefault<FileInfo[]>() ?? [])
            {
                string? error = !module.Exists
                    ? $"--add-module file '{module.FullName}' does not exist"
                    : GrubConfig.ValidateModuleName(module.Name);
                if (error is not null)
                {
                    result.AddError(error);
                    return;
                }
            }
        });

        var command = new Command("iso", "Build iso/out/percy.iso (hybrid BIOS + UEFI) from iso/grub.cfg, with the kernel and every module.") { cmdline, modules };
        command.SetAction(async (parseResult, cancellationToken) =>
        {
            var options = new IsoOptions(parseResult.GetValue(cmdline) ?? string.Empty, parseResult.GetValue(modules) ?? []);
            await IsoBuild.BuildAsync(options, cancellationToken);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command CreateRunCommand()
    {
        var cpus = new Option<int>("--smp")
        {
            Description = $"Number of CPUs ({QemuOptions.MinCpus}..{QemuOptions.MaxCpus}).",
            HelpName = "N",
            DefaultValueFactory = _ => QemuOptions.DefaultCpus,

            // Parsed here rather than by the default converter so that "--smp x" gets the
            // same one-line message as "--smp 0".
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                string? error = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value)
                    ? QemuOptions.ValidateCpus(value)
                    : $"--smp must be a number between {QemuOptions.MinCpus} and {QemuOptions.MaxCpus} (got '{text}')";
                if (error is not null)
                {
                    result.AddError(error);
                }

                return value;
            },
        };

        var memory = new Option<string>("--mem")
        {
            Description = "Guest memory, e.g. 512M or 4G.",
            HelpName = "SIZE",
            DefaultValueFactory = _ => QemuOptions.DefaultMemory,
        };
        AddCheck(memory, QemuOptions.ValidateMemory);

        var machine = new Option<string>("--machine")
        {
            Description = $"QEMU machine type: {string.Join(" or ", QemuOptions.Machines)}.",
            HelpName = "TYPE",
            DefaultValueFactory = _ => QemuOptions.DefaultMachine,
        };
        AddCheck(machine, QemuOptions.ValidateMachine);

        var uefi = new Option<bool>("--uefi") { Description = $"Boot with UEFI firmware ({QemuRunner.OvmfFirmware}) instead of BIOS." };

        var cpu = new Option<string>("--cpu")
        {
            Description = $"QEMU CPU model: {string.Join(", ", QemuOptions.CpuModels)}, optionally with ,+FLAG or ,-FLAG (e.g. Skylake-Server,-x2apic). Default: QEMU's (qemu64).",
            HelpName = "MODEL",
        };
        AddCheck(cpu, QemuOptions.ValidateCpu);

        var usb = new Option<bool>("--usb") { Description = "Boot the image as a USB stick (raw disk on xHCI), as on a real PC, instead of a CD." };
        Option<string> cmdline = CreateCmdlineOption();

        var command = new Command("run", "Build the ISO and boot it in QEMU with the serial console on this terminal.")
        {
            cpus, memory, machine, uefi, cpu, usb, cmdline,
        };
        command.SetAction((parseResult, cancellationToken) =>
        {
            var options = new QemuOptions(
                parseResult.GetValue(cpus),
                parseResult.GetValue(memory)!,
                parseResult.GetValue(machine)!,
                parseResult.GetValue(uefi))
            {
                Cpu = parseResult.GetValue(cpu),
                Usb = parseResult.GetValue(usb),
            };
            return RunTarget.RunAsync(options, parseResult.GetValue(cmdline) ?? string.Empty, cancellationToken);
        });
        return command;
    }

    private static Command CreateTestCommand()
    {
        var filter = new Option<string>("--filter")
        {
            Description = "Run only matching tests (passed to dotnet test --filter).",
            HelpName = "EXPR",
        };

        var command = new Command("test", "Build the ISO, then run tests/Percy.Tests and tests/Percy.Qemu.Tests.") { filter };
        command.SetAction((parseResult, cancellationToken) => TestRunner.RunAsync(parseResult.GetValue(filter), cancellationToken));
        return command;
    }

    private static Command CreateBenchCommand()
    {
        Option<int> runs = CreateNumberOption("--runs", $"Percy boots per configuration", BenchSuite.DefaultPercyRuns, BenchTarget.MinRuns, BenchTarget.MaxRuns);
        Option<int> linuxRuns = CreateNumberOption("--linux-runs", $"Linux boots per -smp in the full report (at most {BenchSuite.MaxLargeSmpLinuxRuns} from -smp {BenchSuite.LargeSmp})", BenchSuite.DefaultLinuxRuns, BenchTarget.MinRuns, BenchTarget.MaxRuns);
        Option<int> cpus = CreateNumberOption("--smp", "Quick mode: only time boots with N CPUs, SeaBIOS and UEFI, into bench/results/boot-smpN.md", BenchTarget.DefaultCpus, QemuOptions.MinCpus, QemuOptions.MaxCpus);
        var sweep = new Option<string>("--sweep")
        {
            Description = $"Full report: the -smp values to boot, comma-separated (the allocator rows need {BenchSuite.AllocatorSmp}, the module rows {BenchSuite.ModuleSmp}).",
            HelpName = "LIST",
            DefaultValueFactory = _ => string.Join(",", BenchSuite.SmpSweep),
        };
        AddCheck(sweep, BenchSuite.ValidateSweep);
        var noLinux = new Option<bool>("--no-linux") { Description = "Full report without the Linux peer (Percy's figures only; ratios show –)." };
        var reportOnly = new Option<bool>("--report-only") { Description = "Write latest.md and the plots again from latest.json, measuring nothing (after a change to the report's layout)." };
        var command = new Command(
            "bench",
            $"Full report: Percy and Debian's Linux {LinuxPeer.KernelVersion} booted back to back at -smp {string.Join(",", BenchSuite.SmpSweep)}, per-CPU memory, modules, allocator, " +
            "instruction counts -> bench/results/latest.md, latest.json and SVG plots (~10 min on 2 cores). With --smp N: the quick boot timing only.")
        {
            runs, linuxRuns, cpus, sweep, noLinux, reportOnly,
        };
        command.SetAction((parseResult, cancellationToken) =>
        {
            bool quick = parseResult.GetResult(cpus) is { Implicit: false };
            if (parseResult.GetValue(reportOnly))
            {
                return BenchSuite.RewriteReportAsync(cancellationToken);
            }

            return quick
                ? BenchTarget.RunAsync(parseResult.GetValue(runs), parseResult.GetValue(cpus), cancellationToken)
                : BenchSuite.RunAsync(BenchSuite.ParseSweep(parseResult.GetValue(sweep)!), parseResult.GetValue(runs), parseResult.GetValue(linuxRuns), !parseResult.GetValue(noLinux), cancellationToken);
        });
        return command;
    }

    private static Command CreateCleanCommand()
    {
        var command = new Command("clean", "Remove iso/out and the bin/obj directories of the kernel and the tests.");
        command.SetAction(_ => Clean.Run());
        return command;
    }

    private static Option<string> CreateCmdlineOption()
    {
        var option = new Option<string>("--cmdline")
        {
            Description = "Kernel command line, written into grub.cfg (printable ASCII; no quotes, \\ $ ; | & < > { } #).",
            HelpName = "TEXT",
            DefaultValueFactory = _ => string.Empty,
        };
        AddCheck(option, GrubConfig.ValidateCmdline);
        return option;
    }

    // A whole number in [min, max]; "--runs x" and "--runs 0" get the same one-line message.
    private static Option<int> CreateNumberOption(string name, string description, int defaultValue, int min, int max)
        => new(name)
        {
            Description = $"{description} ({min}..{max}).",
            HelpName = "N",
            DefaultValueFactory = _ => defaultValue,
            CustomParser = result =>
            {
                string text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : string.Empty;
                bool parsed = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value);
                if (!parsed || value < min || value > max)
                {
                    result.AddError($"{name} must be a number between {min} and {max} (got '{text}')");
                }

                return value;
            },
        };

    // Validation at parse time reports bad options before any build step runs. Only for
    // string options: their conversion cannot fail, so the value is always there to check.
    private static void AddCheck(Option<string> option, Func<string, string?> check)
    {
        option.Validators.Add(result =>
        {
            string? value = result.GetValueOrDefault<string>();
            string? error = value is null ? null : check(value);
            if (error is not null)
            {
                result.AddError(error);
            }
        });
    }

    // Always one line, however many errors System.CommandLine found or however many lines
    // one of its messages has.
    private static void ReportUsageErrors(ParseResult parseResult)
    {
        string command = parseResult.CommandResult.Command is RootCommand ? DriverName : parseResult.CommandResult.Command.Name;
        string message = string.Join("; ", parseResult.Errors.Select(e => OneLine(e.Message).TrimEnd('.')).Distinct());
        Ui.Error($"{command}: {message} (see ./build.sh {(command == DriverName ? string.Empty : command + " ")}--help)");
    }

    private static string OneLine(string text)
        => string.Join(' ', text.Split((char[])['\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries).Select(s => s.Trim()));
}
