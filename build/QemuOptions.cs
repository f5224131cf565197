using System.Text.RegularExpressions;

namespace Percy.Build;

/// <summary>The virtual machine `run` starts, with the rules its options must follow.</summary>
internal sealed partial record QemuOptions(int Cpus, string Memory, string Machine, bool Uefi)
{
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

    /// <summary>QEMU spells sizes with upper-case suffixes in its docs; normalise to that.</summary>
    public string QemuMemory => Memory.ToUpperInvariant();

    [GeneratedRegex("^(?<amount>[1-9][0-9]{0,6})(?<unit>[MmGg])$")]
    private static partial Regex MemoryPattern();
}
