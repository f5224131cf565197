// Memory with PROT_NONE guard pages on both sides, for feeding parsers raw input: data
// placed with PlaceAtEnd ends exactly where a guard page begins, data placed with
// PlaceAtStart begins exactly where one ends, so any read past either end faults (the
// test host dies with SIGSEGV, which fails the run). The data pages are read-only while
// a parser runs, so a parser that writes to its input faults too.
using System;
using System.Runtime.InteropServices;

namespace Percy.Tests.Support
{
    public sealed unsafe class GuardedMemory : IDisposable
    {
        const int ProtNone = 0, ProtRead = 1, ProtWrite = 2;
        const int MapPrivate = 0x02, MapAnonymous = 0x20;
        public const int PageSize = 4096;

        [DllImport("libc", SetLastError = true)]
        static extern IntPtr mmap(IntPtr addr, UIntPtr length, int prot, int flags, int fd, IntPtr offset);
        [DllImport("libc", SetLastError = true)]
        static extern int mprotect(IntPtr addr, UIntPtr length, int prot);
        [DllImport("libc", SetLastError = true)]
        static extern int munmap(IntPtr addr, UIntPtr length);

        readonly byte* _mapping;
        readonly ulong _mappingSize;
        readonly byte* _data;                       // first data page
        readonly int _dataSize;                     // bytes between the guards
        bool _writable;

        public int Capacity => _dataSize;

        public GuardedMemory(int capacity)
        {
            int pages = Math.Max(1, (capacity + PageSize - 1) / PageSize);
            _dataSize = pages * PageSize;
            _mappingSize = (ulong)(pages + 2) * PageSize;
            IntPtr m = mmap(IntPtr.Zero, (UIntPtr)_mappingSize, ProtRead | ProtWrite, MapPrivate | MapAnonymous, -1, IntPtr.Zero);
            if (m == new IntPtr(-1)) throw new InvalidOperationException("mmap failed: " + Marshal.GetLastWin32Error());
            _mapping = (byte*)m;
            _data = _mapping + PageSize;
            Protect(_mapping, PageSize, ProtNone);
            Protect(_data + _dataSize, PageSize, ProtNone);
        }

        static void Protect(byte* p, long size, int prot)
        {
            if (mprotect((IntPtr)p, (UIntPtr)(ulong)size, prot) != 0)
                throw new InvalidOperationException("mprotect failed: " + Marshal.GetLastWin32Error());
        }

        // Copies data so that its last byte is the last readable byte; returns its address.
        public byte* PlaceAtEnd(byte[] data, int length = -1)
        {
            if (length < 0) length = data.Length;
            return Place(data, length, _dataSize - length);
        }

        // Copies data so that its first byte is the first readable byte; returns its address.
        public byte* PlaceAtStart(byte[] data, int length = -1)
        {
            if (length < 0) length = data.Length;
            return Place(data, length, 0);
        }

        // A writable buffer of `length` bytes whose last byte is the last accessible one, so
        // that a write past its end faults. Its contents are left as they were.
        public byte* WritableAtEnd(int length)
        {
            if (length > _dataSize || length < 0) throw new ArgumentException("does not fit");
            if (!_writable) Protect(_data, _dataSize, ProtRead | ProtWrite);
            _writable = true;
            return _data + _dataSize - length;
        }

        byte* Place(byte[] data, int length, int offset)
        {
            if (length > _dataSize || length > data.Length) throw new ArgumentException("data does not fit");
            Protect(_data, _dataSize, ProtRead | ProtWrite);
            new Span<byte>(_data, _dataSize).Fill(0xCC);
            data.AsSpan(0, length).CopyTo(new Span<byte>(_data + offset, length));
            Protect(_data, _dataSize, ProtRead);
            _writable = false;
            return _data + offset;
        }

        public void Dispose()
        {
            munmap((IntPtr)_mapping, (UIntPtr)_mappingSize);
            GC.SuppressFinalize(this);
        }
    }
}
