// A text parameter's value (`target=counter`): up to 63 bytes, copied in, so it lives as
// long as the module and needs no allocation. Pure: compiled into modules and host tests.
namespace Percy.Module
{
    public unsafe struct ModuleString
    {
        public const int Capacity = 63;
        fixed byte _bytes[Capacity];
        byte _length;

        public int Length => _length;

        public byte this[int index] => index >= 0 && index < _length ? _bytes[index] : (byte)0;

        // False (and empty) if the text does not fit.
        public bool Set(byte* text, int length)
        {
            _length = 0;
            if (length < 0 || length > Capacity) return false;
            for (int i = 0; i < length; i++) _bytes[i] = text[i];
            _length = (byte)length;
            return true;
        }

        // For defaults: characters above 0x7F become '?'.
        public bool Set(string text)
        {
            _length = 0;
            if (text.Length > Capacity) return false;
            for (int i = 0; i < text.Length; i++) _bytes[i] = text[i] < 0x80 ? (byte)text[i] : (byte)'?';
            _length = (byte)text.Length;
            return true;
        }

        public void CopyTo(byte* destination)
        {
            for (int i = 0; i < _length; i++) destination[i] = _bytes[i];
        }
    }
}
