// What the Multiboot2 parser hands the kernel: the boot information, decoded and
// bounds-checked. Every pointer here points into the boot information itself (whose
// memory the kernel must keep reserved while it uses them); physical addresses are
// physical. Sized once at boot: fixed-capacity arrays, nothing is ever freed.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Multiboot
{
    // Memory map entry types (Multiboot2 tag 6, the same numbers as E820).
    public static class MemoryRegionType
    {
        public const uint Available = 1;
        public const uint Reserved = 2;
        public const uint AcpiReclaimable = 3;
        public const uint AcpiNvs = 4;
        public const uint BadMemory = 5;
    }

    public struct MemoryRegion
    {
        public ulong Base;
        public ulong Length;
        public uint Type;                           // MemoryRegionType; other values mean reserved

        public MemoryRegion(ulong start, ulong length, uint type) { Base = start; Length = length; Type = type; }
    }

    public unsafe struct BootModule
    {
        public ulong Start;                         // physical, inclusive
        public ulong End;                           // physical, exclusive (mod_end)
        public byte* String;                        // the module's command line, not NUL-terminated here
        public int StringLength;
    }

    public static class FramebufferType
    {
        public const byte Indexed = 0;
        public const byte Rgb = 1;
        public const byte EgaText = 2;
    }

    public unsafe struct FramebufferInfo
    {
        public bool Present;
        public ulong Address;                       // physical
        public uint Pitch, Width, Height;           // pitch in bytes; EGA text: width/height in characters
        public byte BitsPerPixel;
        public byte Type;                           // FramebufferType
        // Type Rgb: the position (lowest bit) and size in bits of each colour field.
        public byte RedPosition, RedSize, GreenPosition, GreenSize, BluePosition, BlueSize;
        // Type Indexed: PaletteCount entries of 3 bytes (red, green, blue) at Palette.
        public byte* Palette;
        public uint PaletteCount;
    }

    // Multiboot2 tag 9: the kernel's own ELF section headers (ElfSymbolTable reads them).
    public unsafe struct ElfSectionsInfo
    {
        public bool Present;
        public uint Count;
        public uint EntrySize;
        public uint StringTableIndex;               // shndx: the section-name string table
        public byte* Headers;                       // Count * EntrySize bytes inside the tag
    }

    public sealed unsafe class BootInformation
    {
        public const int MaxMemoryRegions = 256;
        public const int MaxModules = 64;              // the build refuses an ISO with more

        public ulong Physical;                      // where the information starts
        public uint TotalSize;
        public bool EndTagSeen;

        public bool HasCommandLine;
        public byte* CommandLine;
        public int CommandLineLength;               // without the NUL

        public bool HasBootLoaderName;
        public byte* BootLoaderName;
        public int BootLoaderNameLength;

        public bool HasBasicMemory;
        public uint LowerMemoryKiB, UpperMemoryKiB; // mem_lower / mem_upper

        public bool HasMemoryMap;
        public uint MemoryMapEntryVersion;
        public readonly MemoryRegion[] MemoryMap = new MemoryRegion[MaxMemoryRegions];
        public int MemoryMapCount;

        public readonly BootModule[] Modules = new BootModule[MaxModules];
        public int ModuleCount;
        public bool ModulesTruncated;               // more module tags than MaxModules

        // The RSDP copy the boot loader placed inside the information (tag 15 wins over 14).
        public int RsdpVersion;                     // 0 none, 1 from tag 14, 2 from tag 15
        public byte* Rsdp;
        public ulong RsdpPhysical;
        public uint RsdpLength;                     // bytes of the copy

        public FramebufferInfo Framebuffer;
        public ElfSectionsInfo ElfSections;

        public bool HasLoadBaseAddress;
        public uint LoadBaseAddress;

        public readonly ProblemList Warnings = new ProblemList();

        public void Clear()
        {
            Physical = 0; TotalSize = 0; EndTagSeen = false;
            HasCommandLine = false; CommandLine = null; CommandLineLength = 0;
            HasBootLoaderName = false; BootLoaderName = null; BootLoaderNameLength = 0;
            HasBasicMemory = false; LowerMemoryKiB = 0; UpperMemoryKiB = 0;
            HasMemoryMap = false; MemoryMapEntryVersion = 0; MemoryMapCount = 0;
            ModuleCount = 0;
            ModulesTruncated = false;
            RsdpVersion = 0; Rsdp = null; RsdpPhysical = 0; RsdpLength = 0;
            Framebuffer = default;
            ElfSections = default;
            HasLoadBaseAddress = false; LoadBaseAddress = 0;
            Warnings.Clear();
        }
    }
}
