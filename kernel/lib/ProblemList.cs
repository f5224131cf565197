// Problems found while reading firmware or boot-loader data (Multiboot2 tags, the memory
// map, ACPI tables), kept for the kernel to log one line each. A fixed capacity, since the
// parsers run before any allocator could grow a list; what does not fit is counted.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel
{
    // Code: what the problem is about (a Multiboot2 tag type, a map entry's index, an ACPI
    // signature or MADT entry type); Address: a physical address or offset involved, or 0;
    // Reason: a literal for the log.
    public struct Problem
    {
        public uint Code;
        public ulong Address;
        public string Reason;
    }

    public sealed class ProblemList
    {
        public const int Capacity = 16;
        readonly Problem[] _items = new Problem[Capacity];
        int _count, _dropped;

        public int Count => _count;
        public int Dropped => _dropped;              // problems that did not fit
        public Problem this[int index] => _items[index];

        public void Add(uint code, string reason) => Add(code, 0, reason);

        public void Add(uint code, ulong address, string reason)
        {
            if (_count == Capacity) { _dropped++; return; }
            _items[_count].Code = code;
            _items[_count].Address = address;
            _items[_count].Reason = reason;
            _count++;
        }

        public void Clear() { _count = 0; _dropped = 0; }
    }
}
