using System.Text;

namespace Percy.Harness;

/// <summary>One completed line of serial output.</summary>
/// <param name="Index">0-based line number since QEMU started.</param>
/// <param name="Text">The line as a terminal would show it: no '\r', no escape sequences, backspaces applied.</param>
/// <param name="TimestampMs">Milliseconds from QEMU's start to the arrival of the line's first byte.</param>
public sealed record OutputLine(int Index, string Text, long TimestampMs)
{
    public override string ToString() => Text;
}

/// <summary>A prompt seen in the output.</summary>
/// <param name="LineIndex">Index the line holding the prompt has (or will have once completed).</param>
/// <param name="Column">Column where the prompt starts; text before it is output that lacked a newline.</param>
/// <param name="Prefix">Text on the same line before the prompt.</param>
/// <param name="TimestampMs">Milliseconds from QEMU's start to the prompt's last character.</param>
public sealed record PromptMark(int LineIndex, int Column, string Prefix, long TimestampMs);

/// <summary>
/// Turns a stream of terminal output into lines, the way a terminal would show them:
/// '\r' is dropped (the brief: serial lines end "\r\n", GRUB also emits stray '\r'),
/// ANSI/VT100 escape sequences are removed (ESC[K erases to the end of the line, cursor
/// moves within the line are followed: ESC[D, ESC[C, ESC[G, and the column of ESC[r;cH,
/// which GRUB uses for every character it echoes), '\b' moves
/// the cursor left so "\b \b" erases a character, other control characters are dropped.
/// Also records every place where the line so far ends with the prompt (which has no
/// newline after it). Pure logic: not thread-safe, the caller locks.
/// </summary>
public sealed class TerminalLineAssembler
{
    private enum Esc { None, Esc, EscIntermediate, Csi }

    private readonly string _prompt;
    private readonly StringBuilder _line = new();
    private readonly StringBuilder _csi = new();
    private readonly List<int> _promptColumnsThisLine = new();
    private int _cursor;
    private Esc _esc;
    private long _lineStartMs = -1;
    private int _completed;

    public TerminalLineAssembler(string prompt)
    {
        _prompt = prompt ?? "";
    }

    /// <summary>Called for every completed line.</summary>
    public Action<OutputLine>? LineCompleted { get; set; }

    /// <summary>Called when the current line comes to end with the prompt (once per line and column).</summary>
    public Action<PromptMark>? PromptSeen { get; set; }

    /// <summary>The current, not yet completed line.</summary>
    public string Partial => _line.ToString();

    /// <summary>Number of completed lines so far.</summary>
    public int CompletedLines => _completed;

    public void Feed(ReadOnlySpan<char> chars, long nowMs)
    {
        foreach (var c in chars) Feed(c, nowMs);
    }

    public void Feed(char c, long nowMs)
    {
        if (_lineStartMs < 0) _lineStartMs = nowMs;

        switch (_esc)
        {
            case Esc.Esc:
                if (c == '[') { _esc = Esc.Csi; _csi.Clear(); return; }
                if (c >= 0x20 && c <= 0x2F) { _esc = Esc.EscIntermediate; return; } // ESC ( B and friends
                _esc = Esc.None;
                if (c >= 0x30 && c <= 0x7E) return; // two-character sequence: ESC c, ESC 7, ESC M ...
                break; // not an escape after all: treat c normally
            case Esc.EscIntermediate:
                if (c >= 0x20 && c <= 0x2F) return;
                _esc = Esc.None;
                if (c >= 0x30 && c <= 0x7E) return;
                break;
            case Esc.Csi:
                if (c >= 0x20 && c <= 0x3F)
                {
                    if (_csi.Length < 64) { _csi.Append(c); return; }
                    _esc = Esc.None; // absurdly long: give up on it
                    break;
                }
                _esc = Esc.None;
                if (c >= 0x40 && c <= 0x7E) { ApplyCsi(c); return; }
                break; // malformed (e.g. a newline inside): drop the sequence, keep c
        }

        switch (c)
        {
            case '\x1b':
                _esc = Esc.Esc;
                return;
            case '\n':
                Complete(nowMs);
                return;
            case '\r':
                return;
            case '\b':
                if (_cursor > 0) _cursor--;
                return;
            case '\t':
                Put('\t', nowMs);
                return;
        }
        if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xA0)) return;
        Put(c, nowMs);
    }

    /// <summary>Completes the current line if it holds anything (used at end of output).</summary>
    public void Flush(long nowMs)
    {
        if (_line.Length > 0) Complete(nowMs);
    }

    private void Put(char c, long nowMs)
    {
        if (_cursor < _line.Length) _line[_cursor] = c;
        else _line.Append(c);
        _cursor++;
        CheckPrompt(nowMs);
    }

    private void CheckPrompt(long nowMs)
    {
        int p = _prompt.Length;
        if (p == 0 || _cursor != _line.Length || _cursor < p) return;
        int col = _cursor - p;
        for (int i = 0; i < p; i++)
            if (_line[col + i] != _prompt[i]) return;
        if (_promptColumnsThisLine.Contains(col)) return;
        _promptColumnsThisLine.Add(col);
        PromptSeen?.Invoke(new PromptMark(_completed, col, _line.ToString(0, col), nowMs));
    }

    private void ApplyCsi(char final)
    {
        var args = _csi.ToString();
        int N(int dflt)
        {
            var first = args.Split(';')[0].TrimStart('?');
            return int.TryParse(first, out var n) && n > 0 ? n : dflt;
        }
        switch (final)
        {
            case 'K': // erase in line
                var mode = int.TryParse(args, out var k) ? k : 0;
                if (mode == 0) _line.Length = Math.Min(_line.Length, _cursor);
                else if (mode == 2) { _line.Clear(); _cursor = 0; }
                else if (mode == 1) for (int i = 0; i < Math.Min(_cursor, _line.Length); i++) _line[i] = ' ';
                break;
            case 'D': // cursor left
                _cursor = Math.Max(0, _cursor - N(1));
                break;
            case 'C': // cursor right
                _cursor = Math.Min(_line.Length, _cursor + N(1));
                break;
            case 'G': // cursor to column
                MoveToColumn(N(1) - 1);
                break;
            case 'H': // cursor position "row;col": GRUB positions every character this way.
            case 'f': // Rows are ignored: output is taken as one stream of lines.
            {
                var parts = args.Split(';');
                MoveToColumn(parts.Length > 1 && int.TryParse(parts[1], out var col) && col > 0 ? col - 1 : 0);
                break;
            }
            // Everything else (colours, clear screen, cursor home, modes) has no effect on lines.
        }
    }

    private void MoveToColumn(int col)
    {
        col = Math.Clamp(col, 0, 4096);
        while (_line.Length < col) _line.Append(' ');
        _cursor = col;
    }

    private void Complete(long nowMs)
    {
        var line = new OutputLine(_completed, _line.ToString(), _lineStartMs < 0 ? nowMs : _lineStartMs);
        _completed++;
        _line.Clear();
        _cursor = 0;
        _promptColumnsThisLine.Clear();
        _lineStartMs = -1;
        LineCompleted?.Invoke(line);
    }
}
