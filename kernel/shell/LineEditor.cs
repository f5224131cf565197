// Turns the bytes a terminal (or the keyboard) sends into command lines: printable
// characters are kept, backspace/DEL erases, CR or LF ends the line (CR LF counts once),
// ANSI escape sequences (arrow keys and the like) and other control bytes are dropped;
// a control byte ends an unfinished escape sequence and is then handled as usual.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel.Shell
{
    public enum EditResult { Ignored, Echo, Erase, LineDone }

    public unsafe struct LineEditor
    {
        public const int MaxLength = 255;
        const byte Escape = 0x1B, Backspace = 0x08, Delete = 0x7F, CarriageReturn = 0x0D, LineFeed = 0x0A;
        enum EscapeState : byte { None, SawEscape, InSequence }

        fixed byte _line[MaxLength];
        int _length;
        bool _overflowed;
        bool _lastWasCarriageReturn;
        EscapeState _escape;

        public int Length => _length;
        public bool Overflowed => _overflowed;
        public byte this[int i] => i >= 0 && i < _length ? _line[i] : (byte)0;

        public EditResult Feed(byte b)
        {
            bool afterCarriageReturn = _lastWasCarriageReturn;
            _lastWasCarriageReturn = b == CarriageReturn;
            // A control byte inside an escape sequence is acted on, as terminals do (ECMA-48):
            // an unfinished sequence never swallows Enter.
            if (_escape != EscapeState.None && b < 0x20 && b != Escape) _escape = EscapeState.None;
            if (_escape == EscapeState.SawEscape)
            {
                _escape = b == '[' ? EscapeState.InSequence : EscapeState.None;
                return EditResult.Ignored;
            }
            if (_escape == EscapeState.InSequence)
            {
                if (b >= 0x40 && b <= 0x7E) _escape = EscapeState.None;   // the final byte
                return EditResult.Ignored;
            }
            switch (b)
            {
                case Escape:
                    _escape = EscapeState.SawEscape;
                    return EditResult.Ignored;
                case CarriageReturn:
                    return EditResult.LineDone;
                case LineFeed:
                    return afterCarriageReturn ? EditResult.Ignored : EditResult.LineDone;
                case Backspace:
                case Delete:
                    if (_length == 0) return EditResult.Ignored;
                    _length--;
                    return EditResult.Erase;
            }
            if (b < 0x20 || b > 0x7E) return EditResult.Ignored;
            if (_length == MaxLength)
            {
                _overflowed = true;
                return EditResult.Ignored;
            }
            _line[_length++] = b;
            return EditResult.Echo;
        }

        // Starts a new line once the finished one has been handled.
        public void Clear()
        {
            _length = 0;
            _overflowed = false;
            _escape = EscapeState.None;
        }

        public void CopyTo(byte* dst)
        {
            for (int i = 0; i < _length; i++) dst[i] = _line[i];
        }
    }
}
