// The ELF64 and x86-64 psABI constants the module loader uses, each named once, with the
// specification's own names (SHT_PROGBITS, R_X86_64_PC32, ...) so that they can be found
// next to readelf output and the specifications: ELF gABI (section 4) and the System V
// x86-64 psABI (section 4.4, relocation types).
// Pure logic: compiled into the kernel, the host tests and the build driver (which writes
// modules with these names).
namespace Percy.Kernel.Modules
{
    public static class Elf
    {
        // Structure sizes (Elf64_Ehdr, Elf64_Shdr, Elf64_Sym, Elf64_Rela).
        public const int EhdrSize = 64;
        public const int ShdrSize = 64;
        public const int SymSize = 24;
        public const int RelaSize = 24;

        // e_ident
        public const byte ELFMAG0 = 0x7F, ELFMAG1 = (byte)'E', ELFMAG2 = (byte)'L', ELFMAG3 = (byte)'F';
        public const int EI_CLASS = 4, EI_DATA = 5, EI_VERSION = 6;
        public const byte ELFCLASS64 = 2;
        public const byte ELFDATA2LSB = 1;
        public const uint EV_CURRENT = 1;

        // e_type, e_machine
        public const ushort ET_REL = 1;
        public const ushort EM_X86_64 = 62;

        // Special section indexes.
        public const uint SHN_UNDEF = 0;
        public const uint SHN_LORESERVE = 0xFF00;
        public const uint SHN_ABS = 0xFFF1;
        public const uint SHN_COMMON = 0xFFF2;
        public const uint SHN_XINDEX = 0xFFFF;

        // sh_type
        public const uint SHT_NULL = 0;
        public const uint SHT_PROGBITS = 1;
        public const uint SHT_SYMTAB = 2;
        public const uint SHT_STRTAB = 3;
        public const uint SHT_RELA = 4;
        public const uint SHT_NOTE = 7;
        public const uint SHT_NOBITS = 8;
        public const uint SHT_REL = 9;
        public const uint SHT_INIT_ARRAY = 14;
        public const uint SHT_FINI_ARRAY = 15;
        public const uint SHT_PREINIT_ARRAY = 16;
        public const uint SHT_GROUP = 17;
        public const uint SHT_X86_64_UNWIND = 0x70000001;     // .eh_frame in ILC output

        // sh_flags
        public const ulong SHF_WRITE = 0x1;
        public const ulong SHF_ALLOC = 0x2;
        public const ulong SHF_EXECINSTR = 0x4;
        public const ulong SHF_TLS = 0x400;
        public const ulong SHF_COMPRESSED = 0x800;

        // st_info: binding (high nibble) and type (low nibble).
        public const byte STB_LOCAL = 0;
        public const byte STB_GLOBAL = 1;
        public const byte STB_WEAK = 2;
        public const byte STB_GNU_UNIQUE = 10;
        public const byte STT_SECTION = 3;
        public const byte STT_TLS = 6;
        public const byte STT_GNU_IFUNC = 10;

        // r_info type (x86-64 psABI). Only the ones the relocator applies, and the ones it
        // names in errors.
        public const uint R_X86_64_NONE = 0;
        public const uint R_X86_64_64 = 1;
        public const uint R_X86_64_PC32 = 2;
        public const uint R_X86_64_PLT32 = 4;
        public const uint R_X86_64_GOTPCREL = 9;
        public const uint R_X86_64_32 = 10;
        public const uint R_X86_64_32S = 11;
        public const uint R_X86_64_PC64 = 24;
        public const uint R_X86_64_GOTPCRELX = 41;
        public const uint R_X86_64_REX_GOTPCRELX = 42;

        // The per-CPU section of a module (and of the kernel): not part of the module image.
        public const string PerCpuSectionName = ".data..percpu";
        public const string ModInfoSectionName = ".modinfo";
        public const string ExportsSectionName = ".percy_exports";

        // The two functions every module defines (docs/modules.md, "Entry points").
        public const string ModuleInitName = "percy_module_init";
        public const string ModuleExitName = "percy_module_exit";

        // The linker-defined symbol for the GOT's address (gcc -fpic objects name it even
        // when nothing references it); the relocator gives it the module's own GOT.
        public const string GlobalOffsetTableName = "_GLOBAL_OFFSET_TABLE_";
    }
}
