// A module's parameters as insmod passes them: `key=value` tokens (or a bare `key`, a true
// bool) separated by blanks, values without quotes or blanks. The loader hands the bytes
// to the module's init entry; the generated parameter setter (build/ModuleGenerator.cs)
// walks them with ModuleArguments and stores each value with ModuleArgument.Parse into the
// [ModuleParameter] field its key names. Nothing is allocated.
// Pure logic: compiled into every C# module and into the host tests.
namespace Percy.Module
{
    public unsafe struct ModuleArgument
    {
        public byte* Key;
        public int KeyLength;
        public bool HasValue;                   // key=value (possibly empty), not a bare key
        public byte* Value;
        public int ValueLength;

        public bool KeyIs(string name)
        {
            if (name.Length != KeyLength) return false;
            for (int i = 0; i < KeyLength; i++)
                if (Key[i] != name[i]) return false;
            return true;
        }

        // Each Parse stores the value, or returns why it cannot (and stores a zero value).
        public string Parse(out bool value)
        {
            value = false;
            if (!HasValue) { value = true; return null; }   // a bare key sets a bool, as in Linux
            if (Is("1") || Is("y") || Is("Y") || Is("true")) { value = true; return null; }
            if (Is("0") || Is("n") || Is("N") || Is("false")) return null;
            return "not a bool (1/0, y/n, true/false)";
        }

        public string Parse(out int value)
        {
            string problem = ParseSigned(int.MinValue, int.MaxValue, out long v);
            value = (int)v;
            return problem;
        }

        public string Parse(out long value) => ParseSigned(long.MinValue, long.MaxValue, out value);

        public string Parse(out uint value)
        {
            string problem = ParseUnsigned(uint.MaxValue, out ulong v);
            value = (uint)v;
            return problem;
        }

        public string Parse(out ulong value) => ParseUnsigned(ulong.MaxValue, out value);

        public string Parse(out ModuleString value)
        {
            value = default;
            if (!HasValue) return "needs a value";
            return value.Set(Value, ValueLength) ? null : "is longer than 63 bytes";
        }

        bool Is(string text)
        {
            if (text.Length != ValueLength) return false;
            for (int i = 0; i < ValueLength; i++)
                if (Value[i] != text[i]) return false;
            return true;
        }

        string ParseSigned(long min, long max, out long value)
        {
            value = 0;
            bool negative = HasValue && ValueLength > 0 && Value[0] == '-';
            string problem = ParseMagnitude(negative ? 1 : 0, out ulong magnitude);
            if (problem != null) return problem;
            ulong limit = negative ? (ulong)(-(min + 1)) + 1 : (ulong)max;
            if (magnitude > limit) return "out of range";
            value = negative ? (long)(0 - magnitude) : (long)magnitude;
            return null;
        }

        string ParseUnsigned(ulong max, out ulong value)
        {
            string problem = ParseMagnitude(0, out value);
            if (problem == null && value > max) problem = "out of range";
            if (problem != null) value = 0;
            return problem;
        }

        // Decimal, or hex after 0x, from Value[start].
        string ParseMagnitude(int start, out ulong value)
        {
            value = 0;
            if (!HasValue || start >= ValueLength) return "needs a number";
            int i = start;
            uint radix = 10;
            if (ValueLength - i > 2 && Value[i] == '0' && (Value[i + 1] == 'x' || Value[i + 1] == 'X'))
            {
                radix = 16;
                i += 2;
            }
            for (; i < ValueLength; i++)
            {
                uint digit = Digit(Value[i]);
                if (digit >= radix) return "not a number";
                if (value > (ulong.MaxValue - digit) / radix) return "out of range";
                value = value * radix + digit;
            }
            return null;
        }

        static uint Digit(byte c)
        {
            if (c >= '0' && c <= '9') return (uint)(c - '0');
            if (c >= 'a' && c <= 'f') return (uint)(c - 'a' + 10);
            if (c >= 'A' && c <= 'F') return (uint)(c - 'A' + 10);
            return uint.MaxValue;
        }
    }

    public unsafe struct ModuleArguments
    {
        readonly byte* _text;
        readonly int _length;
        int _at;

        public ModuleArguments(byte* text, ulong length)
        {
            _text = text;
            _length = text == null ? 0 : length > int.MaxValue ? int.MaxValue : (int)length;
            _at = 0;
        }

        // The next token, or false at the end.
        public bool Next(out ModuleArgument argument)
        {
            argument = default;
            while (_at < _length && IsBlank(_text[_at])) _at++;
            if (_at >= _length) return false;
            argument.Key = _text + _at;
            while (_at < _length && !IsBlank(_text[_at]) && _text[_at] != '=') _at++;
            argument.KeyLength = (int)(_text + _at - argument.Key);
            if (_at < _length && _text[_at] == '=')
            {
                _at++;
                argument.HasValue = true;
                argument.Value = _text + _at;
                while (_at < _length && !IsBlank(_text[_at])) _at++;
                argument.ValueLength = (int)(_text + _at - argument.Value);
            }
            return true;
        }

        static bool IsBlank(byte c) => c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }
}
