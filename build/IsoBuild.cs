namespace Percy.Build;

/// <summary>What goes into the ISO besides the kernel.</summary>
internal sealed record IsoOptions(string Cmdline, IReadOnlyList<FileInfo> Modules)
{
    public static IsoOptions Default { get; } = new(string.Empty, []);
}

/// <summary>
/// Builds iso/out/percy.iso: one image that boots as a CD and, written with dd, as a USB
/// stick, under BIOS and UEFI (the layout grub-mkrescue makes, with GRUB's boot images
/// from <see cref="GrubImages"/>).
/// </summary>
internal static class IsoBuild
{
    private const string KernelPathInIso = "boot/percy.elf";
    private const string GrubConfigPathInIso = GrubImages.GrubDirectoryInIso + "/grub.cfg";

    // The screen font for GRUB framebuffers (every UEFI boot): grub-common's ASCII font,
    // passed to the kernel as the boot module named "font" (see iso/grub.cfg).
    private const string FontSource = "/usr/share/grub/ascii.pf2";
    private const string FontPathInIso = "boot/font.pf2";

    // xorriso's mkisofs options for the hybrid layout: the BIOS El Torito image (the
    // firmware loads its first 2 KiB, 4 sectors of 512 bytes, which load the rest), patched
    // with its own location (boot-info-table, grub2-boot-info) so it and the USB stick's MBR
    // can find the rest of GRUB; then the UEFI image, also a partition of the stick.
    private static readonly string[] s_hybridLayout =
    [
        "-b", GrubImages.BiosImageInIso, "-no-emul-boot", "-boot-load-size", "4", "-boot-info-table",
        "--grub2-boot-info", "--grub2-mbr", GrubImages.HybridMbr,
        "--efi-boot", GrubImages.EfiImageInIso, "-efi-boot-part", "--efi-boot-image",
        "--protective-msdos-label",
    ];

    public static async Task<string> BuildAsync(IsoOptions options, CancellationToken cancellationToken)
    {
        // Reject bad input before spending time on the kernel.
        string? cmdlineError = GrubConfig.ValidateCmdline(options.Cmdline);
        if (cmdlineError is not null)
        {
            throw new BuildException("iso: " + cmdlineError, exitCode: ExitCodes.Usage);
        }

        ValidateModules(options.Modules);
        if (!File.Exists(Paths.GrubTemplate))
        {
            throw new BuildException($"iso: {Paths.Display(Paths.GrubTemplate)} is missing; restore it from git");
        }

        string template = await File.ReadAllTextAsync(Paths.GrubTemplate, cancellationToken);
        string elf = await KernelBuild.BuildAsync(cancellationToken);

        // Every module the tree builds rides along as a boot module (BootModules.TryFind by
        // file name), after any --add-module file, whose name must not collide with one.
        IReadOnlyList<FileInfo> builtModules = (await ModulesBuild.BuildAsync(cancellationToken)).Select(f => new FileInfo(f)).ToList();
        IReadOnlyList<FileInfo> allModules = [.. options.Modules, .. builtModules];
        IReadOnlyList<string> moduleNames = ValidateModules(allModules);
        string grubConfig = GrubConfig.Render(template, options.Cmdline, moduleNames);
        Stage(elf, grubConfig, allModules);

        // Write beside the target and rename, so a failed run never leaves a truncated ISO
        // where tests or QEMU would pick it up.
        string partial = Paths.Iso + ".partial";
        File.Delete(partial);
        await Ui.StepAsync("iso: grub-mkimage and xorriso", async _ =>
        {
            await GrubImages.BuildAsync(Paths.IsoStaging, cancellationToken);
            await Tool.RunCheckedAsync(
                "xorriso",
                ["-as", "mkisofs", .. s_hybridLayout, "-o", partial, "-r", Paths.IsoStaging],
                "iso: xorriso",
                "see its output above; ./build.sh deps checks xorriso",
                cancellationToken);
        });
        File.Move(partial, Paths.Iso, overwrite: true);

        string modulesNote = moduleNames.Count > 0 ? $", modules: {string.Join(' ', moduleNames)}" : string.Empty;
        string cmdlineNote = options.Cmdline.Length > 0 ? $", cmdline: {options.Cmdline}" : string.Empty;
        Ui.Success($"iso: {Paths.Display(Paths.Iso)} ({Ui.FormatSize(new FileInfo(Paths.Iso).Length)}{cmdlineNote}{modulesNote})");
        return Paths.Iso;
    }

    // The font is a boot module too.
    private const int ModuleFilesAllowed = Percy.Kernel.Multiboot.BootInformation.MaxModules - 1;

    private static IReadOnlyList<string> ValidateModules(IReadOnlyList<FileInfo> modules)
    {
        if (modules.Count > ModuleFilesAllowed)
        {
            throw new BuildException($"iso: {modules.Count} module files (with the ones the tree builds); the kernel keeps at most {ModuleFilesAllowed}: pass fewer --add-module files", exitCode: ExitCodes.Usage);
        }

        var names = new List<string>(modules.Count);
        foreach (FileInfo module in modules)
        {
            if (!module.Exists)
            {
                throw new BuildException($"iso: module file '{module.FullName}' does not exist", exitCode: ExitCodes.Usage);
            }

            string? nameError = GrubConfig.ValidateModuleName(module.Name);
            if (nameError is not null)
            {
                throw new BuildException("iso: " + nameError, exitCode: ExitCodes.Usage);
            }

            if (names.Contains(module.Name, StringComparer.Ordinal))
            {
                throw new BuildException($"iso: two modules are named '{module.Name}'; module names must be unique", exitCode: ExitCodes.Usage);
            }

            names.Add(module.Name);
        }

        return names;
    }

    // The staging tree is rebuilt from scratch so a module dropped from the command line
    // does not linger in the next ISO.
    private static void Stage(string elf, string grubConfig, IReadOnlyList<FileInfo> modules)
    {
        if (Directory.Exists(Paths.IsoStaging))
        {
            Directory.Delete(Paths.IsoStaging, recursive: true);
        }

        string kernelTarget = Path.Combine(Paths.IsoStaging, KernelPathInIso);
        string grubTarget = Path.Combine(Paths.IsoStaging, GrubConfigPathInIso);
        Directory.CreateDirectory(Path.GetDirectoryName(kernelTarget)!);
        Directory.CreateDirectory(Path.GetDirectoryName(grubTarget)!);
        File.Copy(elf, kernelTarget);
        File.WriteAllText(grubTarget, grubConfig);
        if (!File.Exists(FontSource))
        {
            throw new BuildException($"iso: {FontSource} is missing; run ./build.sh deps (package grub-common)");
        }

        File.Copy(FontSource, Path.Combine(Paths.IsoStaging, FontPathInIso));

        if (modules.Count > 0)
        {
            string modulesDirectory = Path.Combine(Paths.IsoStaging, GrubConfig.ModulesDirectory.TrimStart('/'));
            Directory.CreateDirectory(modulesDirectory);
            foreach (FileInfo module in modules)
            {
                module.CopyTo(Path.Combine(modulesDirectory, module.Name));
            }
        }
    }
}
