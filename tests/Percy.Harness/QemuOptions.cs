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

/// <summary>Where the firmware finds the ISO.</summary>
public enum BootMedium
{
    /// <summary>-cdrom: the ISO as a CD (El Torito).</summary>
    Cdrom,
    /// <summary>
    /// The ISO as a raw USB mass-storage disk, as `dd` writes it to a stick: booted through
    /// its MBR (BIOS) or its EFI system partition (UEFI), the hybrid image's other halves.
    /// </summary>
    UsbStick,
}

/// <summary>The USB host controller a <see cref="BootMedium.UsbStick"/> hangs off.</summary>
public enum UsbController
{
    /// <summary>-device qemu-xhci (USB 3, what current PCs have).</summary>
    Xhci,
    /// <summary>-device usb-ehci (USB 2, what older PCs and many BIOS USB stacks know best).</summary>
    Ehci,
}

/// <summary>How to start QEMU. Defaults match what the integration tests want.</summary>
public sealed record QemuOptions
{
    /// <summary>Virtual CPUs (-smp); null passes no -smp (QEMU's default, 1).</summary>
    public int? Smp { get; init; } = 2;

    /// <summary>Guest memory in MiB (-m).</summary>
    public int MemoryMb { get; init; } = 512;

    public QemuMachineType Machine { get; init; } = QemuMachineType.Pc;

    /// <summary>-cpu model (e.g. "qemu64", "Skylake-Server", "EPYC"); null passes no -cpu (QEMU's default, qemu64).</summary>
    public string? CpuModel { get; init; }

    /// <summary>
    /// The CPU's x2APIC feature flag: null keeps the model's own, true adds "+x2apic",
    /// false "-x2apic" to -cpu. QEMU 7.2's TCG has no x2APIC and drops the flag with a warning.
    /// </summary>
    public bool? X2Apic { get; init; }

    public BootMedium Medium { get; init; } = BootMedium.Cdrom;

    /// <summary>The controller a USB stick is attached to (only with <see cref="BootMedium.UsbStick"/>).</summary>
    public UsbController UsbController { get; init; } = UsbController.Xhci;

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

    /// <summary>The default CPU model, named when only <see cref="X2Apic"/> is set.</summary>
    public const string DefaultCpuModel = "qemu64";

    /// <summary>The -cpu value, or null for none: the model, then the x2APIC flag if set.</summary>
    public string? CpuArgument =>
        CpuModel is null && X2Apic is null ? null
        : (CpuModel ?? DefaultCpuModel) + X2Apic switch { true => ",+x2apic", false => ",-x2apic", null => "" };

    /// <summary>The QEMU argument list for an ISO.</summary>
    public IReadOnlyList<string> BuildArguments(string iso)
    {
        var a = new List<string>();
        if (Machine != QemuMachineType.Default) a.AddRange(new[] { "-M", Machine == QemuMachineType.Q35 ? "q35" : "pc" });
        if (CpuArgument is string cpu) a.AddRange(new[] { "-cpu", cpu });
        if (Smp is int smp) a.AddRange(new[] { "-smp", smp.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        a.AddRange(new[] { "-m", $"{MemoryMb}M" });
        a.AddRange(MediumArguments(iso));
        if (Uefi) a.AddRange(new[] { "-bios", OvmfPath });
        a.Add("-nographic");
        if (Tuned)
        {
            a.AddRange(new[] { "-monitor", "none", "-nic", "none" });
            // A USB stick carries its own boot order (bootindex); "-boot d" is for the CD.
            if (Medium == BootMedium.Cdrom) a.AddRange(new[] { "-boot", "d" });
            a.AddRange(new[] { "-accel", "tcg,tb-size=128" });
        }
        if (NoReboot) a.Add("-no-reboot");
        if (DebugExit) a.AddRange(new[] { "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04" });
        a.AddRange(ExtraArgs);
        return a;
    }

    /// <summary>USB stick's drive id, shared by its -drive and its -device.</summary>
    const string UsbDriveId = "stick";

    private IEnumerable<string> MediumArguments(string iso) => Medium switch
    {
        BootMedium.Cdrom => new[] { "-cdrom", iso },
        // Read-only: parallel QEMUs boot the same snapshot, and a writable raw drive takes
        // an exclusive lock on it. bootindex=0 puts the stick first for SeaBIOS and OVMF.
        // A comma in a -drive value is written twice.
        BootMedium.UsbStick => new[]
        {
            "-drive", $"if=none,id={UsbDriveId},format=raw,readonly=on,file={iso.Replace(",", ",,", StringComparison.Ordinal)}",
            "-device", UsbController == UsbController.Ehci ? "usb-ehci,id=usb" : "qemu-xhci,id=usb",
            "-device", $"usb-storage,bus=usb.0,drive={UsbDriveId},bootindex=0",
        },
        _ => throw new ArgumentOutOfRangeException(nameof(Medium), Medium, "unknown boot medium"),
    };

    public override string ToString() =>
        $"{(Uefi ? "uefi" : "bios")}/{Machine.ToString().ToLowerInvariant()}" +
        (CpuArgument is string cpu ? $"/{cpu}" : "") +
        (Medium == BootMedium.UsbStick ? $"/usb-{UsbController.ToString().ToLowerInvariant()}" : "") +
        (Smp is int s ? $"/smp{s}" : "") + $"/{MemoryMb}M" + (Cmdline is null ? "" : $" cmdline='{Cmdline}'");
}
