// A module's two string sections, read from the file (neither is loaded):
//   .modinfo         `tag=value` strings: name=, description=, author=, license=, parm=, parmtype=
//   .percy_exports   the names of the symbols other modules may use
// Both are NUL-separated; empty strings (alignment padding between object files joined by
// `ld -r`) are skipped, and a last string without its NUL ends at the section's end.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    public unsafe struct ModuleStrings
    {
        byte* _bytes;
        ulong _size;

        // Empty when the module has no such section (or it holds no file bytes).
        public static ModuleStrings Of(ElfRelocatable elf, string sectionName)
        {
            ModuleStrings s = default;
            int index = elf.FindSection(sectionName);
            if (index < 0) return s;
            s._bytes = elf.SectionData(index);
            s._size = s._bytes == null ? 0 : elf.Section(index).Size;
            return s;
        }

        // The string at `cursor`, moving the cursor past it; false at the end.
        public bool Next(ref ulong cursor, out byte* text, out int length)
        {
            while (cursor < _size && _bytes[cursor] == 0) cursor++;
            text = _bytes + cursor;
            length = 0;
            if (cursor >= _size) return false;
            while (cursor < _size && _bytes[cursor] != 0)
            {
                cursor++;
                length++;
            }
            return true;
        }

        // The value of the first `key=value` string with this key.
        public bool TryGet(string key, out byte* value, out int length)
        {
            ulong cursor = 0;
            while (Next(ref cursor, out byte* text, out int n))
            {
                if (n <= key.Length || text[key.Length] != '=') continue;
                int k = 0;
                while (k < key.Length && text[k] == key[k]) k++;
                if (k < key.Length) continue;
                value = text + key.Length + 1;
                length = n - key.Length - 1;
                return true;
            }
            value = null;
            length = 0;
            return false;
        }
    }
}
