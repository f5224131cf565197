namespace Percy.Build;

/// <summary>The `run` target: build the ISO with the requested command line, then boot it in QEMU.</summary>
internal static class RunTarget
{
    public static async Task<int> RunAsync(QemuOptions qemu, string cmdline, CancellationToken cancellationToken)
    {
        string iso = await IsoBuild.BuildAsync(IsoOptions.Default with { Cmdline = cmdline }, cancellationToken);

        string firmware = qemu.Uefi ? "UEFI" : "BIOS";
        string cpu = qemu.Cpu is null ? "" : $" ({qemu.Cpu})";
        string medium = qemu.Usb ? "USB stick" : "CD";
        Ui.Info($"run: {qemu.Machine}, {qemu.Cpus} CPUs{cpu}, {qemu.QemuMemory}, {firmware}, {medium}. Quit with Ctrl-A X (or type poweroff at the percy> prompt).");

        int exitCode = await QemuRunner.RunAsync(qemu, iso, cancellationToken);
        string? description = QemuRunner.DescribeExit(exitCode);
        if (description is not null)
        {
            Ui.Error(description);
        }

        return exitCode;
    }
}
