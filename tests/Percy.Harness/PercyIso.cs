using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace Percy.Harness;

/// <summary>
/// Where the Percy ISO comes from.
/// <list type="bullet">
/// <item>$PERCY_ISO, if set (the build driver's test target sets it after building once);</item>
/// <item>otherwise <c>./build.sh iso</c> is run from the repository root once per process
/// (a lazy value, plus a file lock so test assemblies running side by side don't build at
/// the same time), and <c>iso/out/percy.iso</c> is used.</item>
/// </list>
/// The ISO is then copied to a private snapshot, so a rebuild during the test run cannot
/// change an image under a running QEMU.
/// </summary>
public static class PercyIso
{
    private static readonly Lazy<string> s_default = new(LocateAndSnapshot, LazyThreadSafetyMode.ExecutionAndPublication);
    private static readonly ConcurrentDictionary<(string, string), Lazy<string>> s_variants = new();
    private static readonly List<string> s_ownFiles = new();

    /// <summary>Working files (snapshots, variants, lock): /tmp/percy-harness, or $PERCY_HARNESS_TMP.</summary>
    public static string WorkDirectory { get; } = CreateWorkDirectory();

    /// <summary>How long <c>./build.sh iso</c> may take.</summary>
    public static TimeSpan BuildTimeout { get; set; } = TimeSpan.FromMinutes(20);

    /// <summary>The ISO every boot uses unless told otherwise (built on first use if needed).</summary>
    public static string DefaultPath => s_default.Value;

    static PercyIso()
    {
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            lock (s_ownFiles)
                foreach (var f in s_ownFiles)
                    try { File.Delete(f); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        };
    }

    /// <summary>
    /// The repository root: $PERCY_ROOT, else the first directory above the test binaries
    /// or the current directory that holds build.sh and kernel/.
    /// </summary>
    public static string? FindRepoRoot()
    {
        if (Environment.GetEnvironmentVariable("PERCY_ROOT") is { Length: > 0 } r) return Path.GetFullPath(r);
        foreach (var start in new[] { AppContext.BaseDirectory, Environment.CurrentDirectory })
        {
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (File.Exists(Path.Combine(d.FullName, "build.sh")) && Directory.Exists(Path.Combine(d.FullName, "kernel")))
                    return d.FullName;
        }
        return null;
    }

    /// <summary>
    /// A copy of <paramref name="baseIso"/> (default: <see cref="DefaultPath"/>) whose
    /// grub.cfg passes <paramref name="cmdline"/> to the kernel. Made with xorriso (grub.cfg
    /// replaced, boot records replayed; the ISO stays bootable under BIOS and UEFI), cached
    /// per process and on disk by content of the base image and command line.
    /// </summary>
    public static string WithCmdline(string cmdline, string? baseIso = null)
    {
        ArgumentNullException.ThrowIfNull(cmdline);
        var iso = Path.GetFullPath(baseIso ?? DefaultPath);
        return s_variants.GetOrAdd((iso, cmdline),
            key => new Lazy<string>(() => MakeVariant(key.Item1, key.Item2, cfg => GrubConfig.WithCmdline(cfg, cmdline), []),
                LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>
    /// A copy of <paramref name="baseIso"/> (default: <see cref="DefaultPath"/>) with extra boot
    /// modules, as <c>./build.sh iso --add-module FILE</c> would pack them: each file in
    /// /boot/modules under its own name, with a module2 line in grub.cfg
    /// (<see cref="GrubConfig.WithModules"/>). Made with xorriso from the image under test, so
    /// nothing is rebuilt and iso/out (which other tests read) is not touched; cached in this
    /// process by content of the base image and the files (<see cref="DeleteVariant"/> when done).
    /// </summary>
    public static string WithModules(IReadOnlyList<string> files, string? baseIso = null)
    {
        ArgumentNullException.ThrowIfNull(files);
        var iso = Path.GetFullPath(baseIso ?? DefaultPath);
        var paths = files.Select(Path.GetFullPath).ToList();
        var names = paths.Select(Path.GetFileName).ToList();
        _ = GrubConfig.WithModules("multiboot2 /k\n", names!);          // bad names fail here, before xorriso
        var content = string.Join('\n', paths.Select(f => $"{Path.GetFileName(f)} {FileHash(f)}"));
        // A newline starts the key: no command line holds one, so the keys cannot collide. The
        // process id makes the file this process's own, so DeleteVariant cannot pull an image
        // from under another test process's QEMU.
        return s_variants.GetOrAdd((iso, $"\nmodules {Environment.ProcessId}\n{content}"),
            key => new Lazy<string>(() => MakeVariant(key.Item1, key.Item2, cfg => GrubConfig.WithModules(cfg, names!),
                paths.Select(f => (f, $"{GrubConfig.ModulesDirectory}/{Path.GetFileName(f)}")).ToList()),
                LazyThreadSafetyMode.ExecutionAndPublication)).Value;
    }

    /// <summary>
    /// Deletes a variant made by <see cref="WithModules"/> or <see cref="WithCmdline"/> that will
    /// not be booted again (20 MB each; a corpus makes several), and forgets it in this process.
    /// </summary>
    public static void DeleteVariant(string variantIso)
    {
        var path = Path.GetFullPath(variantIso);
        if (!Path.GetFileName(path).StartsWith("variant-", StringComparison.Ordinal) || Path.GetDirectoryName(path) != Path.GetFullPath(WorkDirectory))
            throw new ArgumentException($"{variantIso} is not a variant this harness made", nameof(variantIso));
        foreach (var entry in s_variants)
            if (entry.Value.IsValueCreated && entry.Value.Value == path) s_variants.TryRemove(entry.Key, out _);
        try { File.Delete(path); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>The bytes of one file in an ISO image (e.g. /boot/modules/hello.kmod), read with xorriso.</summary>
    public static byte[] ExtractFile(string iso, string pathInIso)
    {
        var tmpDir = Path.Combine(WorkDirectory, $"extract-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmpDir);
        try
        {
            var target = Path.Combine(tmpDir, "file");
            var x = ProcessRunner.Run("xorriso", new[] { "-osirrox", "on", "-indev", iso, "-extract", pathInIso, target },
                tmpDir, XorrisoTimeout);
            if (x.ExitCode != 0 || !File.Exists(target))
                throw new InvalidOperationException($"xorriso could not extract {pathInIso} from {iso}:\n{ProcessRunner.Tail(x.Output, 20)}");
            return File.ReadAllBytes(target);
        }
        finally
        {
            try { Directory.Delete(tmpDir, recursive: true); } catch (IOException) { }
        }
    }

    private static readonly TimeSpan XorrisoTimeout = TimeSpan.FromMinutes(2);

    private static string CreateWorkDirectory()
    {
        var dir = Environment.GetEnvironmentVariable("PERCY_HARNESS_TMP") is { Length: > 0 } t
            ? t
            : Path.Combine(Path.GetTempPath(), "percy-harness");
        Directory.CreateDirectory(dir);
        // Leftovers of earlier runs (20 MB each): snapshots of processes that are gone, and
        // variants unused for two hours (a variant is touched whenever it is used).
        foreach (var f in Directory.EnumerateFiles(dir, "*.iso"))
        {
            try
            {
                var name = Path.GetFileName(f);
                bool stale = name.StartsWith("snapshot-", StringComparison.Ordinal)
                    ? !ProcessAlive(name.Split('-')[1])
                    : File.GetLastWriteTimeUtc(f) < DateTime.UtcNow.AddHours(-2);
                if (stale) File.Delete(f);
            }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
        }
        return dir;
    }

    private static string LocateAndSnapshot()
    {
        string source;
        if (Environment.GetEnvironmentVariable("PERCY_ISO") is { Length: > 0 } env)
        {
            source = Path.GetFullPath(env);
            if (!File.Exists(source))
                throw new FileNotFoundException($"PERCY_ISO is set to '{env}', which does not exist.", source);
        }
        else
        {
            var root = FindRepoRoot() ?? throw new InvalidOperationException(
                "Cannot find the Percy repository (a directory with build.sh and kernel/) above " +
                $"'{AppContext.BaseDirectory}' or '{Environment.CurrentDirectory}'. Set PERCY_ISO or PERCY_ROOT.");
            source = BuildOnce(root);
        }

        // Private snapshot: a rebuild that rewrites the ISO in place must not corrupt a boot.
        var snap = Path.Combine(WorkDirectory, $"snapshot-{Environment.ProcessId}-{Hash(source)}.iso");
        File.Copy(source, snap, overwrite: true);
        lock (s_ownFiles) s_ownFiles.Add(snap);
        return snap;
    }

    private static string BuildOnce(string root)
    {
        var iso = Path.Combine(root, "iso", "out", "percy.iso");
        var lockPath = Path.Combine(WorkDirectory, $"build-{Hash(root)}.lock");
        var waitStart = DateTime.UtcNow;
        var deadline = waitStart + BuildTimeout;

        using var held = AcquireFileLock(lockPath, deadline);
        // Another test process built while we waited for the lock: use its image.
        if (File.Exists(iso) && File.GetLastWriteTimeUtc(iso) >= waitStart)
            return iso;

        var remaining = deadline - DateTime.UtcNow;
        if (remaining < TimeSpan.FromSeconds(30)) remaining = TimeSpan.FromSeconds(30);
        var result = ProcessRunner.Run("bash", new[] { "./build.sh", "iso" }, root, remaining);
        if (result.ExitCode != 0)
            throw new InvalidOperationException(
                $"'./build.sh iso' failed in {root} with exit code {result.ExitCode}:\n{ProcessRunner.Tail(result.Output, 60)}");
        if (!File.Exists(iso))
            throw new InvalidOperationException(
                $"'./build.sh iso' succeeded but {iso} does not exist:\n{ProcessRunner.Tail(result.Output, 30)}");
        return iso;
    }

    /// <summary>An exclusive lock (flock on Linux) on a file, retried until the deadline.</summary>
    internal static FileStream AcquireFileLock(string path, DateTime deadline)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(250);
            }
            catch (IOException e)
            {
                throw new TimeoutException($"could not lock {path} before the deadline: {e.Message}", e);
            }
        }
    }

    // A copy of baseIso with grub.cfg edited and extra files added (local path, path in the
    // ISO). `what` names the change (a command line, the extra files' names and hashes): with
    // the base image's hash it is the cache key, so equal variants are shared across processes.
    private static string MakeVariant(string baseIso, string what, Func<string, string> editGrubCfg,
                                      IReadOnlyList<(string Local, string InIso)> extraFiles)
    {
        var info = new FileInfo(baseIso);
        if (!info.Exists) throw new FileNotFoundException("base ISO not found", baseIso);
        var key = Hash($"{FileHash(baseIso)}\n{what}"); // by content: shared across processes
        var outIso = Path.Combine(WorkDirectory, $"variant-{key}.iso");
        if (File.Exists(outIso))
        {
            try { File.SetLastWriteTimeUtc(outIso, DateTime.UtcNow); } catch (IOException) { }
            return outIso;
        }

        var tmpDir = Path.Combine(WorkDirectory, $"variant-{key}-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(tmpDir);
        try
        {
            var oldCfg = Path.Combine(tmpDir, "old.cfg");
            var x = ProcessRunner.Run("xorriso",
                new[] { "-osirrox", "on", "-indev", baseIso, "-extract", "/boot/grub/grub.cfg", oldCfg },
                tmpDir, XorrisoTimeout);
            if (x.ExitCode != 0 || !File.Exists(oldCfg))
                throw new InvalidOperationException($"xorriso could not extract /boot/grub/grub.cfg from {baseIso}:\n{ProcessRunner.Tail(x.Output, 20)}");

            var newCfg = Path.Combine(tmpDir, "grub.cfg");
            File.WriteAllText(newCfg, editGrubCfg(File.ReadAllText(oldCfg)));

            // Replay the boot records (El Torito BIOS + EFI, MBR, GPT) of the original image.
            // grub-mkrescue also adds an HFS+ (Mac) hybrid whose partition overlaps the EFI
            // one on replay ("Overlapping GPT entries"), so it is turned off after the replay.
            var tmpIso = Path.Combine(tmpDir, "out.iso");
            var args = new List<string>
            {
                "-indev", baseIso, "-outdev", tmpIso,
                "-boot_image", "any", "replay",
                "-hfsplus", "off",
                "-update", newCfg, "/boot/grub/grub.cfg",
            };
            foreach (var (local, inIso) in extraFiles) args.AddRange(new[] { "-map", local, inIso });
            x = ProcessRunner.Run("xorriso", args, tmpDir, XorrisoTimeout);
            if (x.ExitCode != 0 || !File.Exists(tmpIso))
                throw new InvalidOperationException($"xorriso could not write a variant ({what}) of {baseIso}:\n{ProcessRunner.Tail(x.Output, 30)}");

            File.Move(tmpIso, outIso, overwrite: true); // atomic: other processes see all or nothing
            return outIso;
        }
        finally
        {
            try { Directory.Delete(tmpDir, recursive: true); } catch (IOException) { }
        }
    }

    private static bool ProcessAlive(string pid)
    {
        if (!int.TryParse(pid, out var id)) return false;
        if (id == Environment.ProcessId) return true;
        return Directory.Exists($"/proc/{id}") || (!OperatingSystem.IsLinux() && Exists(id));

        static bool Exists(int id)
        {
            try { using var p = System.Diagnostics.Process.GetProcessById(id); return !p.HasExited; }
            catch (ArgumentException) { return false; }
            catch (InvalidOperationException) { return false; }
        }
    }

    private static string Hash(string s) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(s)))[..16].ToLowerInvariant();

    private static string FileHash(string path)
    {
        using var f = File.OpenRead(path);
        return Convert.ToHexString(SHA256.HashData(f))[..16];
    }
}
