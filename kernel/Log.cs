// The kernel log, Linux style: `[    0.012345] percy: ...`. Every line goes to the
// console and into a ring kept for the `log` shell command (the dmesg of Percy).
// Each stored line starts with its level in syslog form (`<6>`), as /dev/kmsg does.
using Percy.Kernel.Arch;
using Percy.Kernel.Console;

namespace Percy.Kernel
{
    internal enum LogLevel : byte { Error = 3, Warning = 4, Info = 6 }

    internal static unsafe class Log
    {
        const int RingSize = 128 * 1024;
        static byte* s_ring;
        static int s_used;
        // Several CPUs may log at once: one lock keeps lines whole and the ring
        // consistent. Taken with interrupts off, since interrupt handlers log too.
        static int s_lock;

        public static void Info(string text) => Write(LogLevel.Info, Line(text));
        public static void Info(TextLine text) => Write(LogLevel.Info, text);
        public static void Warn(string text) => Write(LogLevel.Warning, Line(text));
        public static void Warn(TextLine text) => Write(LogLevel.Warning, text);
        public static void Error(string text) => Write(LogLevel.Error, Line(text));
        public static void Error(TextLine text) => Write(LogLevel.Error, text);

        static TextLine Line(string s) => $"{s}";

        static void Write(LogLevel level, TextLine text)
        {
            ulong ns = Clock.NanosecondsSinceBoot();
            TextLine line = $"[{ns / 1_000_000_000,5}.{ns / 1000 % 1_000_000:D6}] ";
            for (int i = 0; i < text.Length; i++) line.Append((char)text[i]);
            fixed (int* lockWord = &s_lock)
            {
                ulong flags = Smp.SpinLock.LockIrqSave(lockWord);
                Console.Console.WriteLine(line);
                Store(level, line);
                Smp.SpinLock.UnlockIrqRestore(lockWord, flags);
            }
        }

        static void Store(LogLevel level, TextLine line)
        {
            if (s_ring == null) s_ring = (byte*)Heap.Allocate(RingSize);
            int need = line.Length + 4;               // "<n>" + text + "\n"
            if (s_used + need > RingSize) DropOldest(s_used + need - RingSize);
            byte* p = s_ring + s_used;
            p[0] = (byte)'<';
            p[1] = (byte)('0' + (byte)level);
            p[2] = (byte)'>';
            line.CopyTo(p + 3);
            p[need - 1] = (byte)'\n';
            s_used += need;
        }

        // Frees at least `bytes` by discarding whole lines from the front.
        static void DropOldest(int bytes)
        {
            int cut = 0;
            while (cut < s_used && (cut < bytes || s_ring[cut - 1] != '\n')) cut++;
            Memory.Move(s_ring, s_ring + cut, (nuint)(s_used - cut));
            s_used -= cut;
        }

        // Prints the stored log; with levels, each line keeps its `<n>` prefix.
        public static void Dump(bool withLevels)
        {
            int i = 0;
            while (i < s_used)
            {
                int start = withLevels ? i : i + 3;
                int end = i;
                while (s_ring[end] != '\n') end++;
                Console.Console.Write(s_ring + start, end - start);
                Console.Console.Write((byte)'\n');
                i = end + 1;
            }
        }
    }
}
