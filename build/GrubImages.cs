namespace Percy.Build;

/// <summary>
/// GRUB for the hybrid ISO: the BIOS El Torito image, the UEFI image (bootx64.efi in a FAT
/// image), and the GRUB modules grub.cfg loads with insmod, copied to /boot/grub/PLATFORM/
/// with their dependencies and nothing else.
/// </summary>
/// <remarks>
/// Each boot image holds only what reads the disc. GRUB then loads normal mode and the
/// modules from the disc. grub-mkrescue, which this replaces, copies all ~300 modules of
/// each platform, so the few that are loaded lie far apart. Under SeaBIOS each read goes
/// through the BIOS and the emulated ATAPI drive. With only the needed modules, they lie
/// together and GRUB's 16 KiB reads fetch several at once. Putting them into the boot
/// image instead costs more: GRUB decompresses its image with LZMA, and that is slow under
/// TCG. At -smp 8 the boot reaches the prompt ~0.15 s sooner than with grub-mkrescue's
/// ISO (docs/smp.md has the measurements).
/// </remarks>
internal static class GrubImages
{
    /// <summary>Where grub.cfg is in the ISO, and the modules, one directory per platform.</summary>
    public const string GrubDirectoryInIso = "boot/grub";

    /// <summary>The BIOS image's path in the ISO (El Torito boot image).</summary>
    public const string BiosImageInIso = GrubDirectoryInIso + "/i386-pc/eltorito.img";

    /// <summary>The UEFI image's path in the ISO (El Torito EFI image, also a partition of the USB stick).</summary>
    public const string EfiImageInIso = "efi.img";

    /// <summary>The MBR of the USB-stick form of the ISO: it loads the BIOS image from the disc.</summary>
    public static string HybridMbr => Path.Combine(s_bios.Directory, "boot_hybrid.img");

    // Normal mode, which the boot image loads, and what iso/grub.cfg loads with insmod.
    private static readonly string[] s_configModules = ["normal", "serial", "terminal", "all_video", "multiboot2"];

    private sealed record Platform(string Name, string Format, string PrefixDevice, string[] ImageModules)
    {
        public string Directory => Path.Combine(GrubLibrary, Name);

        public string Prefix => $"{PrefixDevice}/{GrubDirectoryInIso}";
    }

    private const string GrubLibrary = "/usr/lib/grub";

    // GRUB's prefix is where grub.cfg and the modules are. The BIOS image takes the device
    // from the boot drive. "()" makes the UEFI image use the whole disk it was loaded from,
    // not the FAT partition that holds the image itself (as grub-mkrescue does).
    // On a USB stick the UEFI image finds the ISO 9660 volume behind the MBR and the GPT.
    private static readonly Platform s_bios = new("i386-pc", "i386-pc-eltorito", string.Empty, ["biosdisk", "iso9660"]);
    private static readonly Platform s_efi = new("x86_64-efi", "x86_64-efi", "()", ["iso9660", "part_msdos", "part_gpt"]);

    private const string ModuleDependencies = "moddep.lst";
    private const string ModuleExtension = ".mod";

    // The FAT image that carries bootx64.efi (~0.15 MB): mtools' 1440 KiB floppy format.
    private const string EfiFatFormatKiB = "1440";
    private const string EfiDirectory = "::/efi";
    private const string EfiBootDirectory = "::/efi/boot";
    private const string EfiBootFile = "::/efi/boot/bootx64.efi";

    /// <summary>Writes both boot images and both module sets into <paramref name="staging"/>.</summary>
    public static async Task BuildAsync(string staging, CancellationToken cancellationToken)
    {
        foreach (Platform platform in new[] { s_bios, s_efi })
        {
            CopyConfigModules(platform, Path.Combine(staging, GrubDirectoryInIso, platform.Name));
        }

        await MkImageAsync(s_bios, Path.Combine(staging, BiosImageInIso), cancellationToken);

        string efiApplication = Path.Combine(Paths.Objects, "bootx64.efi");
        Directory.CreateDirectory(Paths.Objects);
        await MkImageAsync(s_efi, efiApplication, cancellationToken);

        string fatImage = Path.Combine(staging, EfiImageInIso);
        File.Delete(fatImage);
        await MtoolsAsync("mformat", ["-C", "-f", EfiFatFormatKiB, "-i", fatImage, "::"], cancellationToken);
        await MtoolsAsync("mmd", ["-i", fatImage, EfiDirectory, EfiBootDirectory], cancellationToken);
        await MtoolsAsync("mcopy", ["-i", fatImage, efiApplication, EfiBootFile], cancellationToken);
    }

    /// <summary>
    /// <paramref name="roots"/> and every module they need, by moddep.lst's lines
    /// ("name: dependency ..."); a module moddep.lst does not name has no dependencies.
    /// </summary>
    private static SortedSet<string> DependencyClosure(IEnumerable<string> moddepLines, IEnumerable<string> roots)
    {
        var dependencies = new Dictionary<string, string[]>(StringComparer.Ordinal);
        foreach (string line in moddepLines)
        {
            int colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon > 0)
            {
                dependencies[line[..colon].Trim()] = line[(colon + 1)..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            }
        }

        var closure = new SortedSet<string>(StringComparer.Ordinal);
        var pending = new Stack<string>(roots);
        while (pending.TryPop(out string? module))
        {
            if (closure.Add(module) && dependencies.TryGetValue(module, out string[]? needs))
            {
                foreach (string need in needs)
                {
                    pending.Push(need);
                }
            }
        }

        return closure;
    }

    private static void CopyConfigModules(Platform platform, string target)
    {
        string moddep = Path.Combine(platform.Directory, ModuleDependencies);
        if (!File.Exists(moddep))
        {
            throw new BuildException($"iso: {moddep} is missing; run ./build.sh deps (packages grub-pc-bin and grub-efi-amd64-bin)");
        }

        Directory.CreateDirectory(target);
        foreach (string module in DependencyClosure(File.ReadLines(moddep), s_configModules))
        {
            string source = Path.Combine(platform.Directory, module + ModuleExtension);
            if (!File.Exists(source))
            {
                throw new BuildException($"iso: GRUB module {source} is missing; run ./build.sh deps (packages grub-pc-bin and grub-efi-amd64-bin)");
            }

            File.Copy(source, Path.Combine(target, module + ModuleExtension));
        }
    }

    private static Task MkImageAsync(Platform platform, string output, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        return Tool.RunCheckedAsync(
            "grub-mkimage",
            ["--directory", platform.Directory, "--format", platform.Format, "--prefix", platform.Prefix, "--output", output, .. platform.ImageModules],
            $"iso: grub-mkimage {platform.Format}",
            "./build.sh deps checks grub-common, grub-pc-bin and grub-efi-amd64-bin",
            cancellationToken);
    }

    private static Task MtoolsAsync(string program, string[] arguments, CancellationToken cancellationToken)
        => Tool.RunCheckedAsync(program, arguments, $"iso: {program}", "./build.sh deps checks mtools", cancellationToken);
}
