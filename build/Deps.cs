namespace Percy.Build;

/// <summary>
/// The host packages the build and QEMU need (Debian names). Checked with dpkg; installed
/// with apt-get when running as root (CI), otherwise the user gets the exact command.
/// </summary>
internal static class Deps
{
    private static readonly string[] s_packages =
    [
        "binutils",           // ld, objcopy, objdump
        "nasm",
        "gcc",                // C modules (modules/cmod)
        "grub-common",        // grub-mkimage, grub-file (grub-mkrescue: the harness's self-test)
        "grub-pc-bin",        // BIOS half of the hybrid ISO
        "grub-efi-amd64-bin", // UEFI half
        "xorriso",            // writes the ISO
        "mtools",             // the EFI FAT image
        "qemu-system-x86",
        "ovmf",               // UEFI firmware for run --uefi
    ];

    // Without dpkg (not Debian) the packages cannot be checked by name; these executables
    // are what the build actually calls.
    private static readonly string[] s_tools = ["ld", "objcopy", "nasm", "gcc", "grub-mkimage", "grub-mkrescue", "grub-file", "xorriso", "mformat", "mcopy", "mmd", "qemu-system-x86_64"];

    private const string InstalledStatus = "install ok installed";

    private static bool s_satisfied;

    public static async Task EnsureAsync(CancellationToken cancellationToken)
    {
        // test → iso → kernel each need the tools; one check per invocation is enough.
        if (s_satisfied)
        {
            return;
        }

        if (!Tool.IsOnPath("dpkg"))
        {
            CheckToolsWithoutDpkg();
            s_satisfied = true;
            return;
        }

        IReadOnlyList<string> missing = await FindMissingAsync(cancellationToken);
        if (missing.Count == 0)
        {
            Ui.Info("deps: ok");
            s_satisfied = true;
            return;
        }

        string names = string.Join(' ', missing);
        if (!Environment.IsPrivilegedProcess)
        {
            throw new BuildException($"deps: missing {names}; install them with: sudo apt-get install -y {names}");
        }

        await InstallAsync(missing, cancellationToken);

        IReadOnlyList<string> stillMissing = await FindMissingAsync(cancellationToken);
        if (stillMissing.Count > 0)
        {
            throw new BuildException($"deps: apt-get finished but {string.Join(' ', stillMissing)} is still not installed; check the apt output above");
        }

        Ui.Success($"deps: installed {names}");
        s_satisfied = true;
    }

    private static async Task<IReadOnlyList<string>> FindMissingAsync(CancellationToken cancellationToken)
    {
        // dpkg -s exits non-zero when any package is unknown, so the exit code alone cannot
        // say which; the status stanzas it prints for the known ones can.
        ToolResult result = await Tool.RunAsync("dpkg", ["-s", .. s_packages], cancellationToken);
        var installed = new HashSet<string>(StringComparer.Ordinal);
        string? package = null;
        foreach (string line in result.Output.Split('\n'))
        {
            if (line.StartsWith("Package:", StringComparison.Ordinal))
            {
                package = line["Package:".Length..].Trim();
            }
            else if (line.StartsWith("Status:", StringComparison.Ordinal) && package is not null)
            {
                if (line["Status:".Length..].Trim() == InstalledStatus)
                {
                    installed.Add(package);
                }

                package = null;
            }
        }

        return s_packages.Where(p => !installed.Contains(p)).ToList();
    }

    private static async Task InstallAsync(IReadOnlyList<string> missing, CancellationToken cancellationToken)
    {
        var environment = new Dictionary<string, string?> { ["DEBIAN_FRONTEND"] = "noninteractive" };

        await Ui.StepAsync("deps: apt-get update", status =>
            Tool.RunCheckedAsync(
                "apt-get",
                ["update"],
                "deps: apt-get update",
                "check the network and the apt sources, then run ./build.sh deps",
                cancellationToken,
                status.Report,
                environment));

        // Recommends would drag in a desktop QEMU front end (GTK) that -nographic never uses.
        await Ui.StepAsync($"deps: apt-get install {string.Join(' ', missing)}", status =>
            Tool.RunCheckedAsync(
                "apt-get",
                ["install", "-y", "--no-install-recommends", .. missing],
                "deps: apt-get install",
                "fix the apt error above, then run ./build.sh deps",
                cancellationToken,
                status.Report,
                environment));
    }

    private static void CheckToolsWithoutDpkg()
    {
        string[] missing = s_tools.Where(t => !Tool.IsOnPath(t)).ToArray();
        if (missing.Length > 0)
        {
            throw new BuildException(
                $"deps: no dpkg on this system and {string.Join(", ", missing)} not on PATH; install your distribution's equivalents of: {string.Join(' ', s_packages)}");
        }

        Ui.Info("deps: ok (no dpkg; required tools found on PATH)");
    }
}
