using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>The virtual machine `run` starts, with the rules its options must follow.</summary>
internal sealed partial record QemuOptions(int Cpus, string Memory, string Machine, bool Uefi)
{
    /// <summary>-cpu value (a model from <see cref="CpuModels"/>, maybe with ,+FLAG/,-FLAG); null passes none (qemu64).</summary>
    public string? Cpu { get; init; }

    /// <summary>Boot the ISO as a USB stick (raw disk on an xHCI controller) instead of a CD.</summary>
    public bool Usb { get; init; }

    public const int DefaultCpus = 4;
    public const string DefaultMemory = "512M";
    public const string DefaultMachine = "pc";

    // QEMU's x86 machines accept at most 255 CPUs without x2APIC/IOMMU setup.
    public const int MinCpus = 1;
    public const int MaxCpus = 255;

    // Below this GRUB, the kernel image and the boot allocator do not fit comfortably.
    private const int MinMemoryMiB = 32;
    private const int MiBPerGiB = 1024;

    public static readonly string[] Machines = ["pc", "q35"];

    // The CPU models the hardware test matrix boots (tests/Percy.Qemu.Tests/HardwareMatrixTests.cs),
    // and "max": everything TCG can emulate.
    public static readonly string[] CpuModels = ["qemu64", "Skylake-Server", "EPYC", "max"];

    public static string? ValidateCpus(int cpus)
        => cpus is >= MinCpus and <= MaxCpus ? null : $"--smp must be between {MinCpus} and {MaxCpus} (got {cpus})";

    public static string? ValidateMemory(string memory)
    {
        Match match = MemoryPattern().Match(memory);
        if (!match.Success)
        {
            return $"--mem must be a size like 512M or 4G (got '{memory}')";
        }

        long mebibytes = long.Parse(match.Groups["amount"].Value);
        if (char.ToUpperInvariant(match.Groups["unit"].Value[0]) == 'G')
        {
            mebibytes *= MiBPerGiB;
        }

        return mebibytes >= MinMemoryMiB ? null : $"--mem must be at least {MinMemoryMiB}M (got '{memory}')";
    }

    public static string? ValidateMachine(string machine)
        => Machines.Contains(machine, StringComparer.Ordinal) ? null : $"--machine must be one of {string.Join(", ", Machines)} (got '{machine}')";

    // MODEL[,+flag|,-flag]...: e.g. Skylake-Server,-x2apic.
    public static string? ValidateCpu(string cpu)
    {
        string[] parts = cpu.Split(',');
        bool known = CpuModels.Contains(parts[0], StringComparer.Ordinal);
        return known && parts.Skip(1).All(flag => CpuFlagPattern().IsMatch(flag))
            ? null
            : $"--cpu must be one of {string.Join(", ", CpuModels)}, optionally followed by ,+FLAG or ,-FLAG (got '{cpu}')";
    }

    /// <summary>QEMU spells sizes with upper-case suffixes in its docs; normalise to that.</summary>
    public string QemuMemory => Memory.ToUpperInvariant();

    [GeneratedRegex("^[+-][a-z0-9][a-z0-9_.-]*$")]
    private static partial Regex CpuFlagPattern();

    [GeneratedRegex("^(?<amount>[1-9][0-9]{0,6})(?<unit>[MmGg])$")]
    private static partial Regex MemoryPattern();
}
