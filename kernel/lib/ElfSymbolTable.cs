// Address → name lookups in an ELF64 symbol table (.symtab + its .strtab), for
// symbolised panic call traces. The boot loader hands the kernel its own section
// headers (Multiboot2 tag 9) with the symbol sections loaded into memory.
// Pure logic: compiled into the kernel and into the host tests, which run it on
// the real iso/out/percy.elf.
namespace Percy.Kernel
{
    public unsafe struct ElfSymbolTable
    {
        const uint SectionSymbolTable = 2;          // SHT_SYMTAB
        const int SectionHeaderSize = 64;           // sizeof(Elf64_Shdr)
        const int SymbolSize = 24;                  // sizeof(Elf64_Sym)
        const byte TypeFunction = 2;                // STT_FUNC
        const ushort SectionUndefined = 0;          // SHN_UNDEF

        byte* _symbols;
        ulong _symbolCount;
        byte* _strings;
        ulong _stringsSize;

        public bool Present => _symbols != null;
        public ulong Count => _symbolCount;

        // sections: the section header table; addresses inside it are physical for the
        // sections the boot loader placed, so physToVirt turns them into pointers.
        public static bool TryCreate(byte* sections, uint count, uint entrySize, ulong physToVirt,
                                     out ElfSymbolTable table, out string error)
        {
            table = default;
            error = null;
            if (sections == null || entrySize < SectionHeaderSize || count == 0 || count > 0xFFFF)
            {
                error = "no usable section header table";
                return false;
            }
            for (uint i = 0; i < count; i++)
            {
                byte* sh = sections + (ulong)i * entrySize;
                if (*(uint*)(sh + 4) != SectionSymbolTable) continue;
                uint link = *(uint*)(sh + 40);
                ulong entsize = *(ulong*)(sh + 56);
                ulong size = *(ulong*)(sh + 32);
                if (link >= count || entsize != SymbolSize)
                {
                    error = "symbol table has a bad link or entry size";
                    return false;
                }
                byte* strtab = sections + (ulong)link * entrySize;
                ulong symAddr = *(ulong*)(sh + 16), strAddr = *(ulong*)(strtab + 16);
                if (symAddr == 0 || strAddr == 0)
                {
                    error = "symbol table was not loaded";
                    return false;
                }
                table._symbols = (byte*)(symAddr + physToVirt);
                table._symbolCount = size / SymbolSize;
                table._strings = (byte*)(strAddr + physToVirt);
                table._stringsSize = *(ulong*)(strtab + 32);
                return true;
            }
            error = "no symbol table";
            return false;
        }

        // The value of the first defined symbol with this name (any type): the module loader
        // takes the kernel's exports from here.
        public bool TryFind(string name, out ulong value)
        {
            value = 0;
            for (ulong i = 0; i < _symbolCount; i++)
            {
                byte* sym = _symbols + i * SymbolSize;
                uint nameOffset = *(uint*)sym;
                if (*(ushort*)(sym + 6) == SectionUndefined || nameOffset >= _stringsSize || _stringsSize - nameOffset <= (ulong)name.Length) continue;
                byte* candidate = _strings + nameOffset;
                int k = 0;
                while (k < name.Length && candidate[k] == name[k]) k++;
                if (k < name.Length || candidate[k] != 0) continue;
                value = *(ulong*)(sym + 8);
                return true;
            }
            return false;
        }

        // The function symbol containing addr (or the nearest one below it).
        public bool TryLookup(ulong addr, out byte* name, out int nameLength, out ulong offset)
        {
            name = null;
            nameLength = 0;
            offset = 0;
            ulong best = 0;
            byte* bestSym = null;
            for (ulong i = 0; i < _symbolCount; i++)
            {
                byte* sym = _symbols + i * SymbolSize;
                if ((sym[4] & 0xF) != TypeFunction) continue;
                ulong value = *(ulong*)(sym + 8), size = *(ulong*)(sym + 16);
                if (value > addr || value < best) continue;
                if (size != 0 && addr >= value + size) continue;
                best = value;
                bestSym = sym;
            }
            if (bestSym == null) return false;
            uint nameOffset = *(uint*)bestSym;
            if (nameOffset >= _stringsSize) return false;
            name = _strings + nameOffset;
            while (nameOffset + (ulong)nameLength < _stringsSize && name[nameLength] != 0) nameLength++;
            offset = addr - best;
            return true;
        }
    }
}
