// The virtual range module images are placed in (AddressSpace.ModulesBase .. ModulesEnd,
// Linux's MODULES_VADDR): 1520 MiB right above the kernel image, so that every module is
// within +-2 GiB of the kernel (PC32 and PLT32 calls into it need no trampolines) and in
// the top 2 GiB (gcc's -mcmodel=kernel addresses are sign-extended 32-bit, R_X86_64_32S).
//
// First fit over a sorted list of the images in use. Each image is followed by one page
// that is never mapped, so running off its end faults instead of writing into the next
// module. Modules are few and loaded rarely, so a list beats a bitmap of 389,120 pages;
// its capacity (MaxImages) is fixed at creation: the kernel frees no arrays, and the
// statistics must read the same after any number of load/unload cycles.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Modules
{
    public sealed class ModuleArea
    {
        public const int MaxImages = 1024;

        readonly ulong _base, _end, _page;
        readonly ulong[] _start = new ulong[MaxImages];
        readonly ulong[] _size = new ulong[MaxImages];     // guard page included
        int _count;

        public ModuleArea(ulong start, ulong end, ulong pageSize)
        {
            _base = start;
            _end = end;
            _page = pageSize;
        }

        public int Count => _count;

        // Bytes of the range held by images, their guard pages included.
        public ulong BytesReserved
        {
            get
            {
                ulong total = 0;
                for (int i = 0; i < _count; i++) total += _size[i];
                return total;
            }
        }

        // size: a multiple of the page size, not 0. Null, or why not.
        public string TryAllocate(ulong size, out ulong address)
        {
            address = 0;
            if (size == 0 || (size & (_page - 1)) != 0) return "image size is not a whole number of pages";
            if (size > _end - _base - _page) return "image is larger than the module area";
            if (_count == MaxImages) return "too many modules loaded";
            ulong need = size + _page;
            ulong at = _base;
            int slot = 0;
            for (; slot < _count; slot++)
            {
                if (_start[slot] - at >= need) break;
                at = _start[slot] + _size[slot];
            }
            if (slot == _count && _end - at < need) return "the module area is full";
            for (int i = _count; i > slot; i--)
            {
                _start[i] = _start[i - 1];
                _size[i] = _size[i - 1];
            }
            _start[slot] = at;
            _size[slot] = need;
            _count++;
            address = at;
            return null;
        }

        // False for an address TryAllocate did not return (or already freed).
        public bool Free(ulong address)
        {
            for (int i = 0; i < _count; i++)
            {
                if (_start[i] != address) continue;
                for (int k = i; k < _count - 1; k++)
                {
                    _start[k] = _start[k + 1];
                    _size[k] = _size[k + 1];
                }
                _count--;
                return true;
            }
            return false;
        }
    }
}
