// A command line split into words at spaces. Words point into the caller's buffer.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Shell
{
    public unsafe struct ShellArguments
    {
        public const int MaxWords = 16;
        fixed int _start[MaxWords];
        fixed int _length[MaxWords];
        byte* _text;
        int _count;

        public int Count => _count;

        // False when there are more than MaxWords words.
        public static bool TrySplit(byte* text, int length, out ShellArguments args)
        {
            args = default;
            args._text = text;
            int i = 0;
            while (true)
            {
                while (i < length && text[i] == ' ') i++;
                if (i == length) return true;
                if (args._count == MaxWords) return false;
                int start = i;
                while (i < length && text[i] != ' ') i++;
                args._start[args._count] = start;
                args._length[args._count] = i - start;
                args._count++;
            }
        }

        public byte* Word(int i) => i < _count ? _text + _start[i] : null;
        public int WordLength(int i) => i < _count ? _length[i] : 0;

        public bool Is(int i, string s)
        {
            if (i >= _count || _length[i] != s.Length) return false;
            byte* w = _text + _start[i];
            for (int k = 0; k < s.Length; k++)
                if (w[k] != s[k]) return false;
            return true;
        }

        // A number without sign, decimal or 0x hex; false on anything else or on overflow.
        public bool TryGetNumber(int i, out ulong value)
        {
            value = 0;
            if (i >= _count || _length[i] == 0) return false;
            byte* w = _text + _start[i];
            int k = 0, length = _length[i];
            uint radix = 10;
            if (length > 2 && w[0] == '0' && (w[1] == 'x' || w[1] == 'X')) { radix = 16; k = 2; }
            for (; k < length; k++)
            {
                uint d = Digit(w[k]);
                if (d >= radix || value > (ulong.MaxValue - d) / radix) return false;
                value = value * radix + d;
            }
            return true;
        }

        static uint Digit(byte c) => c >= '0' && c <= '9' ? (uint)(c - '0')
                                   : c >= 'a' && c <= 'f' ? (uint)(c - 'a' + 10)
                                   : c >= 'A' && c <= 'F' ? (uint)(c - 'A' + 10) : uint.MaxValue;
    }
}
