// The kernel command line: `key=value key="quoted value" flag` tokens separated by
// blanks (space, tab, CR, LF). The text is copied in, so the boot information it came
// from can be reclaimed. A malformed token — empty key, duplicate key (the first one
// wins), quote in the wrong place, unterminated quote, non-printable character — is
// ignored and recorded as a problem (byte position + literal reason) for the log; the
// rest of the line is still read. Counts and lengths are bounded.
// Values are byte ranges in Text; the typed lookups parse numbers:
//   TryGetSize  decimal or 0x hex, optional K/M/G/T suffix (binary: K = 1024)
//   TryGetUInt  decimal or 0x hex, within [min, max]
// The typed lookups return false with error == null when the key is absent, and false
// with a literal reason when the value is malformed.
// Pure logic: compiled into the kernel and into the host tests.
namespace Percy.Kernel
{
    public struct CommandLineToken
    {
        public int KeyStart, KeyLength;
        public bool HasValue;                       // key=value (possibly empty) rather than a flag
        public int ValueStart, ValueLength;         // quotes excluded
    }

    public struct CommandLineProblem
    {
        public int Position;                        // byte offset in the command line
        public string Reason;
    }

    public sealed unsafe class KernelCommandLine
    {
        public const int MaxLength = 4096;
        public const int MaxTokens = 64;
        public const int MaxProblems = 16;

        readonly byte[] _text = new byte[MaxLength];
        readonly CommandLineToken[] _tokens = new CommandLineToken[MaxTokens];
        readonly CommandLineProblem[] _problems = new CommandLineProblem[MaxProblems];
        int _length, _tokenCount, _problemCount, _problemsDropped;

        public int Length => _length;
        public byte[] Text => _text;                // bytes [0, Length) are the (possibly cut) line
        public int TokenCount => _tokenCount;
        public CommandLineToken Token(int index) => _tokens[index];
        public int ProblemCount => _problemCount;
        public int ProblemsDropped => _problemsDropped;
        public CommandLineProblem Problem(int index) => _problems[index];

        public void Parse(byte* text, int length)
        {
            Reset();
            if (text == null || length <= 0) return;
            int n = length;
            if (n > MaxLength)
            {
                n = MaxLength;
                AddProblem(MaxLength, "command line is longer than 4096 bytes; the rest is ignored");
                // Do not read half a token: cut at the last blank before the limit.
                if (!IsBlank(text[MaxLength]))
                    while (n > 0 && !IsBlank(text[n - 1])) n--;
            }
            for (int i = 0; i < n; i++) _text[i] = text[i];
            _length = n;
            Tokenize();
        }

        // For callers holding a string (the shell, the host tests). Characters above
        // 0xFF become 0x01, which is reported as non-printable.
        public void Parse(string text)
        {
            Reset();
            if (text == null) return;
            int n = text.Length;
            if (n > MaxLength)
            {
                n = MaxLength;
                AddProblem(MaxLength, "command line is longer than 4096 bytes; the rest is ignored");
                if (!IsBlank(ToByte(text[MaxLength])))
                    while (n > 0 && !IsBlank(ToByte(text[n - 1]))) n--;
            }
            for (int i = 0; i < n; i++) _text[i] = ToByte(text[i]);
            _length = n;
            Tokenize();
        }

        static byte ToByte(char c) => c > 0xFF ? (byte)1 : (byte)c;

        void Reset()
        {
            _length = 0;
            _tokenCount = 0;
            _problemCount = 0;
            _problemsDropped = 0;
        }

        static bool IsBlank(byte c) => c == (byte)' ' || c == (byte)'\t' || c == (byte)'\n' || c == (byte)'\r';
        static bool IsPrintable(byte c) => c >= 0x21 && c <= 0x7E;

        void AddProblem(int position, string reason)
        {
            if (_problemCount == MaxProblems) { _problemsDropped++; return; }
            _problems[_problemCount].Position = position;
            _problems[_problemCount].Reason = reason;
            _problemCount++;
        }

        void Tokenize()
        {
            int i = 0;
            bool full = false;
            while (i < _length)
            {
                while (i < _length && IsBlank(_text[i])) i++;
                if (i >= _length) break;
                int start = i;
                string reason = ScanToken(ref i, out CommandLineToken token);
                if (reason != null) { AddProblem(start, reason); continue; }
                if (Find(start, token.KeyLength) >= 0) { AddProblem(start, "duplicate key; the first one is kept"); continue; }
                if (_tokenCount == MaxTokens)
                {
                    if (!full) AddProblem(start, "more than 64 tokens; the rest are ignored");
                    full = true;
                    continue;
                }
                _tokens[_tokenCount++] = token;
            }
        }

        // Reads one token from i (not blank) and leaves i after it. Returns null or the
        // reason the token is malformed (i is then past the malformed token).
        string ScanToken(ref int i, out CommandLineToken token)
        {
            token = default;
            string reason = null;
            int start = i;
            token.KeyStart = start;
            while (i < _length && !IsBlank(_text[i]) && _text[i] != (byte)'=')
            {
                if (_text[i] == (byte)'"' && reason == null) reason = "quote in a key";
                else if (!IsPrintable(_text[i]) && reason == null) reason = "non-printable character";
                i++;
            }
            token.KeyLength = i - start;
            if (i >= _length || IsBlank(_text[i]))
            {
                // A flag (a key alone); it cannot be empty here since the first byte is not blank.
                return reason;
            }

            // _text[i] == '='
            if (token.KeyLength == 0 && reason == null) reason = "empty key";
            i++;
            token.HasValue = true;
            if (i < _length && _text[i] == (byte)'"')
            {
                i++;
                token.ValueStart = i;
                while (i < _length && _text[i] != (byte)'"')
                {
                    // Blanks are allowed inside quotes; other control characters are not.
                    if (!IsPrintable(_text[i]) && _text[i] != (byte)' ' && reason == null) reason = "non-printable character";
                    i++;
                }
                if (i >= _length) return reason != null ? reason : "unterminated quote";
                token.ValueLength = i - token.ValueStart;
                i++;                                // the closing quote
                if (i < _length && !IsBlank(_text[i]))
                {
                    if (reason == null) reason = "text after a closing quote";
                    SkipToBlank(ref i);
                }
                return reason;
            }
            token.ValueStart = i;
            while (i < _length && !IsBlank(_text[i]))
            {
                if (_text[i] == (byte)'"' && reason == null) reason = "quote inside an unquoted value";
                else if (!IsPrintable(_text[i]) && reason == null) reason = "non-printable character";
                i++;
            }
            token.ValueLength = i - token.ValueStart;
            return reason;
        }

        void SkipToBlank(ref int i)
        {
            while (i < _length && !IsBlank(_text[i])) i++;
        }

        // The index of the token whose key equals _text[keyStart, keyStart + keyLength).
        int Find(int keyStart, int keyLength)
        {
            for (int t = 0; t < _tokenCount; t++)
            {
                if (_tokens[t].KeyLength != keyLength) continue;
                bool same = true;
                for (int k = 0; k < keyLength; k++)
                    if (_text[_tokens[t].KeyStart + k] != _text[keyStart + k]) { same = false; break; }
                if (same) return t;
            }
            return -1;
        }

        int Find(string key)
        {
            if (key == null) return -1;
            for (int t = 0; t < _tokenCount; t++)
            {
                if (_tokens[t].KeyLength != key.Length) continue;
                bool same = true;
                for (int k = 0; k < key.Length; k++)
                    if (_text[_tokens[t].KeyStart + k] != key[k]) { same = false; break; }
                if (same) return t;
            }
            return -1;
        }

        public bool Has(string key) => Find(key) >= 0;

        // True for `key=value` (start/length of the value in Text, quotes excluded; may be
        // empty for `key=`); false for a missing key or a flag without a value.
        public bool TryGetString(string key, out int start, out int length)
        {
            start = 0;
            length = 0;
            int t = Find(key);
            if (t < 0 || !_tokens[t].HasValue) return false;
            start = _tokens[t].ValueStart;
            length = _tokens[t].ValueLength;
            return true;
        }

        // True when the key has a value equal to text.
        public bool ValueEquals(string key, string text)
        {
            if (text == null || !TryGetString(key, out int start, out int length) || length != text.Length) return false;
            for (int k = 0; k < length; k++)
                if (_text[start + k] != text[k]) return false;
            return true;
        }

        public bool TryGetSize(string key, out ulong value, out string error)
        {
            value = 0;
            error = null;
            int t = Find(key);
            if (t < 0) return false;
            if (!_tokens[t].HasValue) { error = "size option has no value"; return false; }
            return ParseSize(_text, _tokens[t].ValueStart, _tokens[t].ValueLength, out value, out error);
        }

        public bool TryGetUInt(string key, uint min, uint max, out uint value, out string error)
        {
            value = 0;
            error = null;
            int t = Find(key);
            if (t < 0) return false;
            if (!_tokens[t].HasValue) { error = "number option has no value"; return false; }
            int start = _tokens[t].ValueStart, length = _tokens[t].ValueLength;
            int end;
            if (!ParseNumber(_text, start, length, out ulong number, out end, out error)) return false;
            if (end != start + length) { error = "unexpected characters after the number"; return false; }
            if (number < min || number > max) { error = "number is out of range"; return false; }
            value = (uint)number;
            return true;
        }

        // Decimal or 0x hex, optional K, M, G or T suffix (either case; powers of 1024).
        public static bool ParseSize(byte[] text, int start, int length, out ulong value, out string error)
        {
            value = 0;
            int end;
            if (!ParseNumber(text, start, length, out ulong number, out end, out error)) return false;
            int stop = start + length;
            int shift = 0;
            if (end < stop)
            {
                byte s = text[end];
                if (s == (byte)'K' || s == (byte)'k') shift = 10;
                else if (s == (byte)'M' || s == (byte)'m') shift = 20;
                else if (s == (byte)'G' || s == (byte)'g') shift = 30;
                else if (s == (byte)'T' || s == (byte)'t') shift = 40;
                else { error = "unexpected characters after the number"; return false; }
                end++;
                if (end != stop) { error = "unexpected characters after the size suffix"; return false; }
            }
            if (shift != 0 && number > (ulong.MaxValue >> shift)) { error = "size overflows 64 bits"; return false; }
            value = number << shift;
            return true;
        }

        // Reads digits from text[start, start + length); end receives where they stopped.
        public static bool ParseNumber(byte[] text, int start, int length, out ulong value, out int end, out string error)
        {
            value = 0;
            end = start;
            error = null;
            if (text == null || start < 0 || length < 0 || start > text.Length || length > text.Length - start)
            {
                error = "number is outside its text";
                return false;
            }
            int stop = start + length;
            int i = start;
            bool hex = length >= 2 && text[i] == (byte)'0' && (text[i + 1] == (byte)'x' || text[i + 1] == (byte)'X');
            if (hex) i += 2;
            int digitsStart = i;
            ulong v = 0;
            while (i < stop)
            {
                int d = Digit(text[i], hex);
                if (d < 0) break;
                ulong radix = hex ? 16ul : 10ul;
                if (v > (ulong.MaxValue - (ulong)d) / radix) { error = "number overflows 64 bits"; return false; }
                v = v * radix + (ulong)d;
                i++;
            }
            if (i == digitsStart)
            {
                error = length == 0 ? "empty number" : hex ? "no hex digits after 0x" : "not a number";
                return false;
            }
            value = v;
            end = i;
            return true;
        }

        static int Digit(byte c, bool hex)
        {
            if (c >= (byte)'0' && c <= (byte)'9') return c - '0';
            if (!hex) return -1;
            if (c >= (byte)'a' && c <= (byte)'f') return c - 'a' + 10;
            if (c >= (byte)'A' && c <= (byte)'F') return c - 'A' + 10;
            return -1;
        }
    }
}
