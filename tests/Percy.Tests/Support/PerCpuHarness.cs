using System;
using System.Collections.Generic;
using System.Linq;
using Percy.Kernel;
using Percy.Kernel.Percpu;

namespace Percy.Tests.Support;

// A backend that records, per chunk, which pages are mapped, refuses impossible calls
// (mapping a mapped page, unmapping an unmapped one, destroying a chunk with pages), and
// can be told to run out of memory.
public sealed class FakePerCpuBackend : PerCpuBackend
{
    readonly ulong _pagesPerChunk;
    readonly Dictionary<int, bool[]> _pages = new();
    public readonly List<string> Log = new();
    public bool Logging = true;                                     // long runs turn the log off
    public readonly List<int> Destroyed = new();
    public int PopulateCalls, DepopulateCalls, CreateCalls, DestroyCalls;
    // Out of memory: fail every populate call while FailPopulate is set, or the call
    // numbered FailPopulateAt (0-based count of populate calls), or at random.
    public bool FailPopulate, FailCreate;
    public int FailPopulateAt = -1;
    public Random FailRandom;
    public double FailRate;
    // Told of every successful populate call (chunk, first page, pages): fresh, zeroed pages.
    public Action<int, ulong, ulong> Populated;

    public FakePerCpuBackend(ulong pagesPerChunk, ulong firstChunkPopulated)
    {
        _pagesPerChunk = pagesPerChunk;
        _pages[0] = new bool[pagesPerChunk];
        StateHash = ChunkHash(0);
        for (ulong p = 0; p < firstChunkPopulated; p++) { _pages[0][p] = true; StateHash ^= PageHash(0, p); }
    }

    // XOR of a hash per existing chunk and per mapped page: O(1), order-independent, and
    // back to its old value when a call is rolled back.
    public ulong StateHash { get; private set; }
    static ulong Mix(ulong x)
    {
        x ^= x >> 33; x *= 0xff51afd7ed558ccdul; x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ul; x ^= x >> 33;
        return x;
    }
    static ulong PageHash(int chunk, ulong page) => Mix(((ulong)(uint)chunk << 32) ^ page ^ 0x9E3779B97F4A7C15ul);
    static ulong ChunkHash(int chunk) => Mix((ulong)(uint)chunk ^ 0xC2B2AE3D27D4EB4Ful);

    public bool Exists(int chunk) => _pages.ContainsKey(chunk);
    public bool IsPopulated(int chunk, ulong page) => _pages.TryGetValue(chunk, out var a) && a[page];
    public ulong PopulatedCount => (ulong)_pages.Values.Sum(a => a.LongCount(x => x));
    public ulong PopulatedIn(int chunk) => _pages.TryGetValue(chunk, out var a) ? (ulong)a.LongCount(x => x) : 0;
    public IEnumerable<int> ChunkIndices => _pages.Keys;

    // Everything the backend knows, to compare before and after a failed call.
    public string Snapshot()
    {
        var sb = new System.Text.StringBuilder();
        foreach (var kv in _pages.OrderBy(kv => kv.Key))
        {
            sb.Append(kv.Key).Append(':');
            for (int i = 0; i < kv.Value.Length; i++) if (kv.Value[i]) sb.Append(i).Append(',');
            sb.Append(';');
        }
        return sb.ToString();
    }

    public override bool CreateChunk(int index)
    {
        CreateCalls++;
        if (index <= 0 || _pages.ContainsKey(index)) throw new InvalidOperationException($"create of chunk {index} twice");
        if (FailCreate) return false;
        _pages[index] = new bool[_pagesPerChunk];
        StateHash ^= ChunkHash(index);
        if (Logging) Log.Add($"create {index}");
        return true;
    }

    public override void DestroyChunk(int index)
    {
        DestroyCalls++;
        if (index == 0 || !_pages.TryGetValue(index, out var a)) throw new InvalidOperationException($"destroy of chunk {index} that does not exist");
        if (a.Any(x => x)) throw new InvalidOperationException($"destroy of chunk {index} with populated pages");
        _pages.Remove(index);
        StateHash ^= ChunkHash(index);
        Destroyed.Add(index);
        if (Logging) Log.Add($"destroy {index}");
    }

    public override bool Populate(int chunk, ulong firstPage, ulong pages)
    {
        int call = PopulateCalls++;
        if (!_pages.TryGetValue(chunk, out var a)) throw new InvalidOperationException($"populate in chunk {chunk} that does not exist");
        if (pages == 0 || firstPage + pages > (ulong)a.Length) throw new InvalidOperationException("populate out of range");
        for (ulong p = firstPage; p < firstPage + pages; p++)
            if (a[p]) throw new InvalidOperationException($"populate of populated page {chunk}:{p}");
        if (FailPopulate || call == FailPopulateAt || (FailRandom != null && FailRandom.NextDouble() < FailRate)) return false;
        for (ulong p = firstPage; p < firstPage + pages; p++) { a[p] = true; StateHash ^= PageHash(chunk, p); }
        if (Logging) Log.Add($"populate {chunk} {firstPage}+{pages}");
        Populated?.Invoke(chunk, firstPage, pages);
        return true;
    }

    public override void Depopulate(int chunk, ulong firstPage, ulong pages)
    {
        DepopulateCalls++;
        if (!_pages.TryGetValue(chunk, out var a)) throw new InvalidOperationException($"depopulate in chunk {chunk} that does not exist");
        if (pages == 0 || firstPage + pages > (ulong)a.Length) throw new InvalidOperationException("depopulate out of range");
        for (ulong p = firstPage; p < firstPage + pages; p++)
        {
            if (!a[p]) throw new InvalidOperationException($"depopulate of unpopulated page {chunk}:{p}");
            a[p] = false;
            StateHash ^= PageHash(chunk, p);
        }
        if (Logging) Log.Add($"depopulate {chunk} {firstPage}+{pages}");
    }
}

public static class PerCpuText
{
    public static string Text(TextLine line)
    {
        var chars = new char[line.Length];
        for (int i = 0; i < line.Length; i++) chars[i] = (char)line[i];
        return new string(chars);
    }

    // Every observable number of the allocator, the text lines and the backend's pages:
    // equal snapshots before and after a failed call mean it changed nothing.
    public static string State(PerCpuAllocator a, FakePerCpuBackend b)
    {
        var parts = new List<string>
        {
            Text(a.FormatStats()),
            $"empty={a.EmptyPopulatedPages} limit={a.ChunkIndexLimit}",
            Text(a.FormatReservedLine()),
        };
        for (int i = 0; i < a.ChunkIndexLimit; i++)
            if (a.ChunkExists(i))
            {
                parts.Add(Text(a.FormatChunkLine(i)));
                parts.Add(Digest(a.Chunk(i)));
            }
        if (a.ReservedChunk != null) parts.Add(Digest(a.ReservedChunk));
        parts.Add(b.Snapshot());
        return string.Join("\n", parts);
    }

    // The chunk's hints and, for chunks up to a few MiB, a hash of both bitmaps.
    static string Digest(PerCpuChunk c)
    {
        ulong h = 1469598103934665603ul;
        if (c.Bits <= 1ul << 20)
            for (ulong bit = 0; bit < c.Bits; bit++)
                h = (h ^ (c.IsAllocated(bit) ? 1ul : 0ul) ^ (c.IsBoundary(bit) ? 2ul : 0ul)) * 1099511628211ul;
        return $"free={c.FreeBits} contig={c.ContigBits}@{c.ContigStart} first={c.FirstFree} live={c.LiveAreas} pop={c.PopulatedPages} empty={c.EmptyPopulatedPages} bits={h:x}";
    }
}
