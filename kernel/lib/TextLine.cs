// One line of formatted text built on the stack: the kernel's string interpolation.
// `$"cpus={n} base={addr:x16}"` passed to a TextLine parameter compiles to the Append
// calls below, so formatting allocates nothing and is safe in interrupt and panic paths.
// Format strings: "x"/"X" hex, "x16" zero-padded hex, "D6" zero-padded decimal;
// a positive alignment right-aligns, a negative one left-aligns (as in .NET).
// Pure logic: compiled into the kernel and into the host tests.
using System.Runtime.CompilerServices;

namespace Percy.Kernel
{
    [InterpolatedStringHandler]
    public unsafe ref struct TextLine
    {
        public const int Capacity = 480;
        fixed byte _bytes[Capacity];
        int _length;

        public TextLine(int literalLength, int formattedCount) { _length = 0; }

        public int Length => _length;
        public byte this[int index] => index >= 0 && index < _length ? _bytes[index] : (byte)0;

        public void AppendLiteral(string s) => AppendFormatted(s);

        public void AppendFormatted(string s, int alignment = 0)
        {
            int n = s == null ? 0 : s.Length;
            PadBefore(n, alignment);
            for (int i = 0; i < n; i++) Append(s[i]);
            PadAfter(n, alignment);
        }

        public void AppendFormatted(char c) => Append(c);
        public void AppendFormatted(bool b) => AppendFormatted(b ? "true" : "false");

        public void AppendFormatted(long value, int alignment = 0, string format = null)
        {
            if (value < 0 && !IsHex(format))
            {
                ulong magnitude = (ulong)(-(value + 1)) + 1;   // safe for long.MinValue
                AppendNumber(magnitude, true, alignment, format);
            }
            else AppendNumber((ulong)value, false, alignment, format);
        }

        public void AppendFormatted(ulong value, int alignment = 0, string format = null)
            => AppendNumber(value, false, alignment, format);

        public void AppendFormatted(TextLine other)
        {
            for (int i = 0; i < other._length; i++) Append((char)other._bytes[i]);
        }

        public void AppendBytes(byte* p, int n)
        {
            for (int i = 0; i < n; i++) Append((char)p[i]);
        }

        public void Append(char c)
        {
            if (_length < Capacity) _bytes[_length++] = c < 0x80 ? (byte)c : (byte)'?';
        }

        public void CopyTo(byte* dst)
        {
            for (int i = 0; i < _length; i++) dst[i] = _bytes[i];
        }

        static bool IsHex(string format) => format != null && format.Length > 0 && (format[0] == 'x' || format[0] == 'X');

        void AppendNumber(ulong value, bool negative, int alignment, string format)
        {
            uint radix = IsHex(format) ? 16u : 10u;
            bool upper = format != null && format.Length > 0 && format[0] == 'X';
            int minDigits = 1;
            if (format != null && format.Length > 1)
            {
                minDigits = 0;
                for (int i = 1; i < format.Length && format[i] >= '0' && format[i] <= '9'; i++)
                    minDigits = minDigits * 10 + (format[i] - '0');
                if (minDigits > 32) minDigits = 32;
            }
            byte* digits = stackalloc byte[32];
            int count = 0;
            do
            {
                uint d = (uint)(value % radix);
                digits[count++] = (byte)(d < 10 ? '0' + d : (upper ? 'A' : 'a') + d - 10);
                value /= radix;
            } while (value != 0);
            while (count < minDigits) digits[count++] = (byte)'0';
            int width = count + (negative ? 1 : 0);
            PadBefore(width, alignment);
            if (negative) Append('-');
            while (count > 0) Append((char)digits[--count]);
            PadAfter(width, alignment);
        }

        void PadBefore(int width, int alignment)
        {
            for (int i = width; i < alignment; i++) Append(' ');
        }

        void PadAfter(int width, int alignment)
        {
            for (int i = width; i < -alignment; i++) Append(' ');
        }
    }
}
