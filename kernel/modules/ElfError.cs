// Why a module could not be parsed, laid out or relocated: one line of text, e.g.
//   section 7 (.rela__managedcode): relocation 12: offset 0x1f0 is past the end of section 3 (__managedcode)
//
// Why not the house's literal reason string: a useful answer names where the file is
// wrong (section, symbol, relocation numbers; names read from the file; the offending
// value), and the kernel cannot build a string at run time (no string allocation in
// Percy's corlib). The line is formatted with TextLine interpolation, which allocates
// nothing, and copied here, because TextLine is a ref struct that no class can hold.
// The module stages (ElfRelocatable.TryParse, ModuleImageLayout.TryBuild,
// Relocator.ResolveSymbols/Apply) therefore return false and fill an ElfError; the
// loader logs `Log.Error($"insmod {name}: {error.Line}")`.
//
// Always one line: names taken from the file are sanitised where they are formatted
// (ElfRelocatable.AppendName), and Set replaces any control byte as a second guard.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    public unsafe struct ElfError
    {
        public const int Capacity = TextLine.Capacity;
        fixed byte _bytes[Capacity];
        int _length;
        bool _set;

        public bool IsSet => _set;
        public int Length => _length;
        public byte this[int index]
        {
            get
            {
                if (index < 0 || index >= _length) return 0;
                fixed (byte* b = _bytes) return b[index];
            }
        }

        public TextLine Line
        {
            get
            {
                TextLine line = default;
                fixed (byte* b = _bytes) line.AppendBytes(b, _length);
                return line;
            }
        }

        // Records the line (never empty) and returns false, so that `return error.Fail(...)`
        // ends a failing stage.
        public bool Fail(TextLine line)
        {
            _set = true;
            _length = line.Length;
            fixed (byte* b = _bytes)
            {
                for (int i = 0; i < _length; i++)
                {
                    byte c = line[i];
                    b[i] = c < 0x20 || c >= 0x7F ? (byte)'?' : c;
                }
                if (_length == 0)
                {
                    b[0] = (byte)'?';
                    _length = 1;
                }
            }
            return false;
        }
    }
}
