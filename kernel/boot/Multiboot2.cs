// The Multiboot2 boot information parser (Multiboot2 specification 2.0, section 3.6).
//
// The information is a u32 total_size, a reserved u32, then tags: u32 type, u32 size
// (header included), contents, each tag starting at the next 8-byte boundary, ending with
// a type 0 tag of size 8. Every read is checked against total_size, and total_size against
// what the caller says it may read, so a malformed information block can make Parse fail
// or skip tags but never read out of bounds, loop forever or overflow. A broken header
// fails the parse; a broken tag is skipped with a warning (tag type + literal reason).
// A tag whose size field itself is unusable ends the walk, since the next tag cannot be
// found; what was read before it is kept.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Multiboot
{
    public static class Multiboot2TagType
    {
        public const uint End = 0;
        public const uint CommandLine = 1;
        public const uint BootLoaderName = 2;
        public const uint Module = 3;
        public const uint BasicMemoryInfo = 4;
        public const uint BiosBootDevice = 5;
        public const uint MemoryMap = 6;
        public const uint Vbe = 7;
        public const uint Framebuffer = 8;
        public const uint ElfSections = 9;
        public const uint Apm = 10;
        public const uint Efi32SystemTable = 11;
        public const uint Efi64SystemTable = 12;
        public const uint Smbios = 13;
        public const uint AcpiOld = 14;
        public const uint AcpiNew = 15;
        public const uint Network = 16;
        public const uint EfiMemoryMap = 17;
        public const uint EfiBootServicesNotTerminated = 18;
        public const uint Efi32ImageHandle = 19;
        public const uint Efi64ImageHandle = 20;
        public const uint LoadBaseAddress = 21;
    }

    public static unsafe class Multiboot2
    {
        // The value the boot loader leaves in EAX.
        public const uint BootLoaderMagic = 0x36D76289;
        // A sane ceiling for total_size: GRUB's information is a few KiB even with a
        // large memory map and ELF section headers.
        public const uint MaxTotalSize = 1024 * 1024;

        const uint HeaderSize = 8;                  // total_size + reserved
        const uint TagHeaderSize = 8;               // type + size
        const uint MemoryMapEntryMinSize = 24;      // base u64, length u64, type u32, reserved u32
        const uint RsdpV1Size = 20;
        const uint RsdpV2Size = 36;
        const uint ElfSectionHeaderMinSize = 64;    // sizeof(Elf64_Shdr)
        const uint FramebufferCommonSize = 32;      // up to and including the reserved u16

        // info: the information mapped at a readable address; physical: where it lives in
        // physical memory (used to report physical addresses of things inside it);
        // maxReadable: how many bytes from info the caller allows to be read.
        // Returns false (with a reason) only when the header is unusable; tag problems are
        // in result.Warnings.
        public static bool Parse(byte* info, ulong physical, ulong maxReadable, BootInformation result, out string error)
        {
            error = null;
            if (result == null) { error = "no result object"; return false; }
            result.Clear();
            if (info == null) { error = "the boot information pointer is null"; return false; }
            if ((physical & 7) != 0) { error = "the boot information is not 8-byte aligned"; return false; }
            if (maxReadable < HeaderSize) { error = "fewer than 8 bytes of boot information are readable"; return false; }
            uint total = *(uint*)info;
            if (total < HeaderSize) { error = "total_size is smaller than the 8-byte header"; return false; }
            if (total > MaxTotalSize) { error = "total_size is larger than 1 MiB"; return false; }
            if (total > maxReadable) { error = "total_size runs past the memory the caller allows"; return false; }

            result.Physical = physical;
            result.TotalSize = total;

            uint offset = HeaderSize;
            // Each step advances by at least 8 bytes within total (<= 1 MiB): the walk ends.
            while (offset < total)
            {
                if (total - offset < TagHeaderSize)
                {
                    result.Warnings.Add(0, "bytes after the last tag are too few for a tag header");
                    break;
                }
                byte* tag = info + offset;
                uint type = *(uint*)tag;
                uint size = *(uint*)(tag + 4);
                if (size < TagHeaderSize)
                {
                    result.Warnings.Add(type, "tag size is smaller than 8; the tags after it are unreadable");
                    break;
                }
                if (size > total - offset)
                {
                    result.Warnings.Add(type, "tag length runs past the end of the information");
                    break;
                }
                if (type == Multiboot2TagType.End)
                {
                    if (size != TagHeaderSize) result.Warnings.Add(type, "end tag size is not 8");
                    result.EndTagSeen = true;
                    break;
                }
                ParseTag(info, physical, offset, type, size, result);

                // Next tag: size rounded up to 8. size <= total - offset <= 1 MiB, no overflow.
                uint advance = (size + 7) & ~7u;
                if (advance > total - offset) break;     // the last tag ran to the end unpadded
                offset += advance;
            }
            if (!result.EndTagSeen) result.Warnings.Add(Multiboot2TagType.End, "no end tag before total_size");
            return true;
        }

        static void ParseTag(byte* info, ulong physical, uint offset, uint type, uint size, BootInformation r)
        {
            byte* tag = info + offset;
            switch (type)
            {
                case Multiboot2TagType.CommandLine:
                    if (r.HasCommandLine) { r.Warnings.Add(type, "duplicate command line tag ignored"); return; }
                    if (!TryString(tag, TagHeaderSize, size, out r.CommandLineLength))
                    {
                        r.Warnings.Add(type, "command line is not NUL-terminated within its tag");
                        return;
                    }
                    r.CommandLine = tag + TagHeaderSize;
                    r.HasCommandLine = true;
                    return;

                case Multiboot2TagType.BootLoaderName:
                    if (r.HasBootLoaderName) { r.Warnings.Add(type, "duplicate boot loader name tag ignored"); return; }
                    if (!TryString(tag, TagHeaderSize, size, out r.BootLoaderNameLength))
                    {
                        r.Warnings.Add(type, "boot loader name is not NUL-terminated within its tag");
                        return;
                    }
                    r.BootLoaderName = tag + TagHeaderSize;
                    r.HasBootLoaderName = true;
                    return;

                case Multiboot2TagType.Module:
                    ParseModule(tag, size, r);
                    return;

                case Multiboot2TagType.BasicMemoryInfo:
                    if (size < 16) { r.Warnings.Add(type, "basic memory information tag is shorter than 16 bytes"); return; }
                    if (r.HasBasicMemory) { r.Warnings.Add(type, "duplicate basic memory information tag ignored"); return; }
                    r.LowerMemoryKiB = *(uint*)(tag + 8);
                    r.UpperMemoryKiB = *(uint*)(tag + 12);
                    r.HasBasicMemory = true;
                    return;

                case Multiboot2TagType.MemoryMap:
                    ParseMemoryMap(tag, size, r);
                    return;

                case Multiboot2TagType.Framebuffer:
                    ParseFramebuffer(tag, size, r);
                    return;

                case Multiboot2TagType.ElfSections:
                    ParseElfSections(tag, size, r);
                    return;

                case Multiboot2TagType.AcpiOld:
                case Multiboot2TagType.AcpiNew:
                {
                    bool isNew = type == Multiboot2TagType.AcpiNew;
                    uint need = isNew ? RsdpV2Size : RsdpV1Size;
                    if (size - TagHeaderSize < need)
                    {
                        r.Warnings.Add(type, isNew ? "ACPI tag is too short for an RSDPv2 (36 bytes)"
                                                   : "ACPI tag is too short for an RSDPv1 (20 bytes)");
                        return;
                    }
                    if (r.RsdpVersion == (isNew ? 2 : 1)) { r.Warnings.Add(type, "duplicate ACPI RSDP tag ignored"); return; }
                    if (r.RsdpVersion == 2) return;      // the new RSDP is already recorded
                    r.RsdpVersion = isNew ? 2 : 1;
                    r.Rsdp = tag + TagHeaderSize;
                    r.RsdpPhysical = physical + offset + TagHeaderSize;
                    r.RsdpLength = size - TagHeaderSize;
                    return;
                }

                case Multiboot2TagType.LoadBaseAddress:
                    if (size < 12) { r.Warnings.Add(type, "load base address tag is shorter than 12 bytes"); return; }
                    if (r.HasLoadBaseAddress) { r.Warnings.Add(type, "duplicate load base address tag ignored"); return; }
                    r.LoadBaseAddress = *(uint*)(tag + 8);
                    r.HasLoadBaseAddress = true;
                    return;

                default:
                    // Tags the kernel does not use, and unknown ones, are skipped (the
                    // specification asks the OS to ignore tags it does not know).
                    return;
            }
        }

        // A NUL-terminated string that starts at `start` within the tag and must end in it.
        static bool TryString(byte* tag, uint start, uint size, out int length)
        {
            length = 0;
            if (start >= size) return false;
            for (uint i = start; i < size; i++)
            {
                if (tag[i] == 0)
                {
                    length = (int)(i - start);
                    return true;
                }
            }
            return false;
        }

        static void ParseModule(byte* tag, uint size, BootInformation r)
        {
            const uint type = Multiboot2TagType.Module;
            if (size < 17) { r.Warnings.Add(type, "module tag is too short for its addresses and string"); return; }
            uint start = *(uint*)(tag + 8), end = *(uint*)(tag + 12);
            if (end < start) { r.Warnings.Add(type, "module ends before it starts"); return; }
            int length;
            if (!TryString(tag, 16, size, out length)) { r.Warnings.Add(type, "module string is not NUL-terminated within its tag"); return; }
            if (r.ModuleCount == BootInformation.MaxModules)
            {
                if (!r.ModulesTruncated) r.Warnings.Add(type, "more than 32 modules; the rest are ignored");
                r.ModulesTruncated = true;
                return;
            }
            int i = r.ModuleCount++;
            r.Modules[i].Start = start;
            r.Modules[i].End = end;
            r.Modules[i].String = tag + 16;
            r.Modules[i].StringLength = length;
        }

        static void ParseMemoryMap(byte* tag, uint size, BootInformation r)
        {
            const uint type = Multiboot2TagType.MemoryMap;
            if (size < 16) { r.Warnings.Add(type, "memory map tag is shorter than 16 bytes"); return; }
            if (r.HasMemoryMap) { r.Warnings.Add(type, "duplicate memory map tag ignored"); return; }
            uint entrySize = *(uint*)(tag + 8);
            uint version = *(uint*)(tag + 12);
            if (entrySize < MemoryMapEntryMinSize) { r.Warnings.Add(type, "memory map entry_size is smaller than 24"); return; }
            if ((entrySize & 7) != 0) { r.Warnings.Add(type, "memory map entry_size is not a multiple of 8"); return; }
            uint bytes = size - 16;
            uint entries = bytes / entrySize;
            if (bytes % entrySize != 0) r.Warnings.Add(type, "memory map ends with a partial entry; it is ignored");
            r.HasMemoryMap = true;
            r.MemoryMapEntryVersion = version;
            if (version != 0) r.Warnings.Add(type, "memory map entry_version is not 0; reading entries as version 0");
            if (entries > BootInformation.MaxMemoryRegions)
            {
                r.Warnings.Add(type, "memory map has more than 256 entries; the rest are ignored");
                entries = BootInformation.MaxMemoryRegions;
            }
            for (uint i = 0; i < entries; i++)
            {
                byte* e = tag + 16 + i * entrySize;
                r.MemoryMap[i].Base = *(ulong*)e;
                r.MemoryMap[i].Length = *(ulong*)(e + 8);
                r.MemoryMap[i].Type = *(uint*)(e + 16);
            }
            r.MemoryMapCount = (int)entries;
        }

        static void ParseFramebuffer(byte* tag, uint size, BootInformation r)
        {
            const uint type = Multiboot2TagType.Framebuffer;
            if (size < FramebufferCommonSize) { r.Warnings.Add(type, "framebuffer tag is shorter than 32 bytes"); return; }
            if (r.Framebuffer.Present) { r.Warnings.Add(type, "duplicate framebuffer tag ignored"); return; }
            FramebufferInfo fb = default;
            fb.Address = *(ulong*)(tag + 8);
            fb.Pitch = *(uint*)(tag + 16);
            fb.Width = *(uint*)(tag + 20);
            fb.Height = *(uint*)(tag + 24);
            fb.BitsPerPixel = tag[28];
            fb.Type = tag[29];
            byte* colour = tag + FramebufferCommonSize;
            uint colourBytes = size - FramebufferCommonSize;
            if (fb.Type == FramebufferType.Rgb)
            {
                if (colourBytes < 6) { r.Warnings.Add(type, "RGB framebuffer tag is too short for its colour fields"); return; }
                fb.RedPosition = colour[0]; fb.RedSize = colour[1];
                fb.GreenPosition = colour[2]; fb.GreenSize = colour[3];
                fb.BluePosition = colour[4]; fb.BlueSize = colour[5];
            }
            else if (fb.Type == FramebufferType.Indexed)
            {
                if (colourBytes < 2) { r.Warnings.Add(type, "indexed framebuffer tag is too short for its palette size"); return; }
                uint colours = *(ushort*)colour;
                if (colours * 3 > colourBytes - 2) { r.Warnings.Add(type, "framebuffer palette runs past the end of its tag"); return; }
                fb.PaletteCount = colours;
                fb.Palette = colour + 2;
            }
            else if (fb.Type != FramebufferType.EgaText)
            {
                r.Warnings.Add(type, "unknown framebuffer type");
                return;
            }
            if (fb.Type != FramebufferType.EgaText && (fb.BitsPerPixel == 0 || fb.Width == 0 || fb.Height == 0))
            {
                r.Warnings.Add(type, "framebuffer has zero width, height or depth");
                return;
            }
            if (fb.Type != FramebufferType.EgaText && (ulong)fb.Pitch * 8 < (ulong)fb.Width * fb.BitsPerPixel)
            {
                r.Warnings.Add(type, "framebuffer pitch is smaller than a row of pixels");
                return;
            }
            fb.Present = true;
            r.Framebuffer = fb;
        }

        static void ParseElfSections(byte* tag, uint size, BootInformation r)
        {
            const uint type = Multiboot2TagType.ElfSections;
            if (size < 20) { r.Warnings.Add(type, "ELF sections tag is shorter than 20 bytes"); return; }
            if (r.ElfSections.Present) { r.Warnings.Add(type, "duplicate ELF sections tag ignored"); return; }
            uint count = *(uint*)(tag + 8), entrySize = *(uint*)(tag + 12), shndx = *(uint*)(tag + 16);
            if (entrySize < ElfSectionHeaderMinSize) { r.Warnings.Add(type, "ELF section entry size is smaller than an Elf64_Shdr"); return; }
            if ((ulong)count * entrySize > size - 20) { r.Warnings.Add(type, "ELF section headers run past the end of their tag"); return; }
            if (count != 0 && shndx >= count) { r.Warnings.Add(type, "ELF section name index is out of range"); return; }
            r.ElfSections.Present = true;
            r.ElfSections.Count = count;
            r.ElfSections.EntrySize = entrySize;
            r.ElfSections.StringTableIndex = shndx;
            r.ElfSections.Headers = tag + 20;
        }
    }
}
