namespace Percy.Harness;

public enum QemuMachineType
{
    /// <summary>QEMU's default machine (i440fx "pc"); no -M argument is passed.</summary>
    Default,
    /// <summary>-M pc (i440fx + PIIX).</summary>
    Pc,
    /// <summary>-M q35 (Q35 + ICH9).</summary>
    Q35,
}

/// <summary>How to start QEMU. Defaults match what the integration tests want.</summary>
public sealed record QemuOptions
{
    /// <summary>Virtual CPUs (-smp); null passes no -smp (QEMU's default, 1).</summary>
    public int? Smp { get; init; } = 2;

    /// <summary>Guest memory in MiB (-m).</summary>
    public int MemoryMb { get; init; } = 512;

    public QemuMachineType Machine { get; init; } = QemuMachineType.Pc;

    /// <summary>Boot with OVMF (-bios <see cref="OvmfPath"/>) instead of SeaBIOS.</summary>
    public bool Uefi { get; init; }

    /// <summary>
    /// Kernel command line. Null boots the ISO as built; any other value (even "") boots a
    /// variant of the ISO whose grub.cfg passes this command line (see <see cref="PercyIso.WithCmdline"/>).
    /// </summary>
    public string? Cmdline { get; init; }

    /// <summary>An ISO to boot instead of Percy's (harness self-tests); null means <see cref="PercyIso.DefaultPath"/>.</summary>
    public string? IsoPath { get; init; }

    /// <summary>Hard limit for the whole run, from QEMU's start; QEMU is killed when it passes.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Adds -device isa-debug-exit,iobase=0xf4,iosize=0x04 (exit code (v&lt;&lt;1)|1).</summary>
    public bool DebugExit { get; init; } = true;

    /// <summary>Adds -no-reboot: a guest reset makes QEMU exit with code 0.</summary>
    public bool NoReboot { get; init; } = true;

    /// <summary>
    /// Adds what makes runs quick and input clean: -monitor none (so no byte, not even
    /// Ctrl-A, is taken by QEMU's monitor multiplexer), -nic none (no iPXE ROM), -boot d,
    /// and the 128 MiB TCG translation cache that build/QemuRunner.cs explains.
    /// </summary>
    public bool Tuned { get; init; } = true;

    /// <summary>Further QEMU arguments, appended last.</summary>
    public IReadOnlyList<string> ExtraArgs { get; init; } = Array.Empty<string>();

    /// <summary>
    /// How fast <see cref="QemuMachine.Send"/> types: 11,520 bytes/s, the payload rate of a
    /// 115200 8N1 line. 0 sends everything at once.
    /// </summary>
    public int InputBytesPerSecond { get; init; } = 11_520;

    /// <summary>The shell prompt (no newline follows it).</summary>
    public string Prompt { get; init; } = "percy> ";

    /// <summary>qemu-system-x86_64, or $PERCY_QEMU.</summary>
    public string QemuBinary { get; init; } =
        Environment.GetEnvironmentVariable("PERCY_QEMU") is { Length: > 0 } q ? q : "qemu-system-x86_64";

    /// <summary>OVMF firmware, or $PERCY_OVMF.</summary>
    public string OvmfPath { get; init; } =
        Environment.GetEnvironmentVariable("PERCY_OVMF") is { Length: > 0 } o ? o : "/usr/share/ovmf/OVMF.fd";

    /// <summary>
    /// The plain command a user would type: qemu-system-x86_64 -cdrom percy.iso -m 512M
    /// -nographic (plus -bios OVMF for UEFI); nothing else.
    /// </summary>
    public static QemuOptions Plain(bool uefi = false) => new()
    {
        Smp = null,
        Machine = QemuMachineType.Default,
        Uefi = uefi,
        DebugExit = false,
        NoReboot = false,
        Tuned = false,
    };

    /// <summary>The QEMU argument list for an ISO.</summary>
    public IReadOnlyList<string> BuildArguments(string iso)
    {
        var a = new List<string>();
        if (Machine != QemuMachineType.Default) a.AddRange(new[] { "-M", Machine == QemuMachineType.Q35 ? "q35" : "pc" });
        if (Smp is int smp) a.AddRange(new[] { "-smp", smp.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        a.AddRange(new[] { "-m", $"{MemoryMb}M" });
        a.AddRange(new[] { "-cdrom", iso });
        if (Uefi) a.AddRange(new[] { "-bios", OvmfPath });
        a.Add("-nographic");
        if (Tuned) a.AddRange(new[] { "-monitor", "none", "-nic", "none", "-boot", "d", "-accel", "tcg,tb-size=128" });
        if (NoReboot) a.Add("-no-reboot");
        if (DebugExit) a.AddRange(new[] { "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04" });
        a.AddRange(ExtraArgs);
        return a;
    }

    public override string ToString() =>
        $"{(Uefi ? "uefi" : "bios")}/{Machine.ToString().ToLowerInvariant()}" +
        (Smp is int s ? $"/smp{s}" : "") + $"/{MemoryMb}M" + (Cmdline is null ? "" : $" cmdline='{Cmdline}'");
}
