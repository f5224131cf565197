using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Percy.Build;

/// <summary>
/// Runs QEMU in the foreground with the serial console on the user's terminal. QEMU owns
/// stdin and stdout directly (no pipes), so its raw-mode terminal handling and the
/// Ctrl-A escape keys work as they do when QEMU is started by hand.
/// </summary>
internal static partial class QemuRunner
{
    public const string QemuBinary = "qemu-system-x86_64";
    public const string OvmfFirmware = "/usr/share/ovmf/OVMF.fd";

    // The isa-debug-exit device: a guest write of value V to this port ends QEMU with exit
    // code (V << 1) | 1. The kernel writes PanicValue when it panics.
    public const int DebugExitPort = 0xf4;
    public const int DebugExitPortSize = 0x04;
    public const int PanicValue = 0x10;
    public static readonly int PanicExitCode = DebugExitCode(PanicValue);

    // After SIGTERM QEMU restores the terminal and exits; SIGKILL only if it does not.
    private static readonly TimeSpan s_terminateGrace = TimeSpan.FromSeconds(3);
    private const int SigTerm = 15;

    public static int DebugExitCode(int value) => (value << 1) | 1;

    public static IReadOnlyList<string> BuildArguments(QemuOptions options, string iso)
        => BuildArguments(options, options.Usb ? UsbStickArguments(iso) : CdromArguments(iso));

    /// <summary>
    /// The same machine booting a Linux kernel directly (-kernel/-initrd/-append): how the
    /// benchmark boots its Linux peer, so both systems run under identical QEMU options.
    /// </summary>
    public static IReadOnlyList<string> BuildKernelArguments(QemuOptions options, string kernel, string initrd, string append)
        => BuildArguments(options, ["-kernel", kernel, "-initrd", initrd, "-append", append]);

    private static List<string> BuildArguments(QemuOptions options, IEnumerable<string> media)
    {
        var arguments = new List<string>
        {
            "-machine", options.Machine,
            "-smp", options.Cpus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-m", options.QemuMemory,
        };
        if (options.Cpu is not null)
        {
            arguments.AddRange(["-cpu", options.Cpu]);
        }

        arguments.AddRange(media);
        arguments.AddRange(
        [
            // No network card: Percy has no network driver, and the firmware would
            // otherwise run the NIC's boot ROM (~0.15 s of every boot at -smp 8).
            "-nic", "none",
            // A 128 MiB translation cache instead of TCG's default 1 GiB: measured at -smp 64
            // on a 2-core host, the kernel's own boot takes 85 ms instead of 345 ms (the
            // first write to each fresh guest page stalls for ~0.5 ms with the big cache);
            // -smp 1 and 8 are unchanged. See docs/smp.md.
            "-accel", "tcg,tb-size=128",
            "-nographic",
            "-no-reboot",
            "-device", $"isa-debug-exit,iobase=0x{DebugExitPort:x},iosize=0x{DebugExitPortSize:x2}",
        ]);

        if (options.Uefi)
        {
            arguments.AddRange(["-bios", OvmfFirmware]);
        }

        return arguments;
    }

    // The CD, booted first: SeaBIOS would otherwise try floppy and disk before it.
    private static string[] CdromArguments(string iso) => ["-cdrom", iso, "-boot", "d"];

    // The image as `dd` writes it to a stick: a raw USB disk on an xHCI controller, first
    // in the boot order. Read-only, so a second QEMU (or a rebuild) cannot be locked out,
    // and a comma in the path is doubled, as -drive values need.
    private static string[] UsbStickArguments(string iso) =>
    [
        "-drive", $"if=none,id=stick,format=raw,readonly=on,file={iso.Replace(",", ",,", StringComparison.Ordinal)}",
        "-device", "qemu-xhci,id=usb",
        "-device", "usb-storage,bus=usb.0,drive=stick,bootindex=0",
    ];

    /// <summary>Runs QEMU until it exits and returns its exit code.</summary>
    public static async Task<int> RunAsync(QemuOptions options, string iso, CancellationToken cancellationToken)
    {
        if (options.Uefi && !File.Exists(OvmfFirmware))
        {
            throw new BuildException($"run: UEFI firmware {OvmfFirmware} is missing; run ./build.sh deps (package ovmf)");
        }

        var startInfo = new ProcessStartInfo(QemuBinary) { UseShellExecute = false };
        foreach (string argument in BuildArguments(options, iso))
        {
            startInfo.ArgumentList.Add(argument);
        }

        using Process qemu = StartOrExplain(startInfo);
        try
        {
            await qemu.WaitForExitAsync(cancellationToken);
        }
        catch (OperationCanceledException)
        {
            await StopAsync(qemu);
            throw;
        }

        return qemu.ExitCode;
    }

    /// <summary>What an exit code means, for the line printed after QEMU ends; null for a clean exit.</summary>
    public static string? DescribeExit(int exitCode)
    {
        if (exitCode == ExitCodes.Success)
        {
            return null;
        }

        if (exitCode == PanicExitCode)
        {
            return $"run: kernel panicked (exit {exitCode})";
        }

        // Exit 1 is also QEMU's own error code, so only larger odd codes are surely the guest's.
        if (exitCode > DebugExitCode(0) && (exitCode & 1) == 1)
        {
            return $"run: guest wrote 0x{exitCode >> 1:x} to the isa-debug-exit port (exit {exitCode})";
        }

        return $"run: qemu exited with {exitCode}";
    }

    private static Process StartOrExplain(ProcessStartInfo startInfo)
    {
        try
        {
            return Process.Start(startInfo) ?? throw new BuildException($"run: {QemuBinary} did not start");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new BuildException($"run: {QemuBinary} was not found on PATH; run ./build.sh deps");
        }
    }

    // Stopped by its own PID, never by name: other QEMUs (tests, other users) are not ours.
    private static async Task StopAsync(Process qemu)
    {
        if (qemu.HasExited)
        {
            return;
        }

        if (OperatingSystem.IsWindows() || Kill(qemu.Id, SigTerm) != 0)
        {
            qemu.Kill(entireProcessTree: true);
        }

        using var grace = new CancellationTokenSource(s_terminateGrace);
        try
        {
            await qemu.WaitForExitAsync(grace.Token);
        }
        catch (OperationCanceledException)
        {
            qemu.Kill(entireProcessTree: true);
            await qemu.WaitForExitAsync();
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
