// Real module objects for the module loader's tests: C compiled by gcc, assembly by NASM,
// linked by GNU ld, in one temporary directory per test run (compiled once, cached by
// name). Support/PatchableElf.cs reads (and patches) what they produce, independently of
// the kernel's reader, so that the kernel's reader is checked against other code.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Text;

namespace Percy.Tests.Support
{
    public static class ModuleToolchain
    {
        static readonly string s_dir = Path.Combine(Path.GetTempPath(), $"percy-kmod-tests-{Environment.ProcessId}");
        static readonly ConcurrentDictionary<string, Lazy<string>> s_cache = new();

        public static string Directory
        {
            get
            {
                if (!System.IO.Directory.Exists(s_dir))
                {
                    System.IO.Directory.CreateDirectory(s_dir);
                    AppDomain.CurrentDomain.ProcessExit += (_, _) =>
                    {
                        try { System.IO.Directory.Delete(s_dir, recursive: true); } catch (IOException) { }
                    };
                }
                return s_dir;
            }
        }

        // Kernel-module flags for gcc, then the variant's own.
        public const string KernelFlags = "-O2 -mno-red-zone -ffreestanding -fno-asynchronous-unwind-tables -fno-common";

        public static string Gcc(string name, string source, string flags)
            => s_cache.GetOrAdd("gcc:" + name, _ => new Lazy<string>(() =>
            {
                string c = Path.Combine(Directory, name + ".c"), o = Path.Combine(Directory, name + ".o");
                File.WriteAllText(c, source);
                Run("gcc", $"-c {flags} -o {o} {c}");
                return o;
            })).Value;

        public static string Nasm(string name, string source)
            => s_cache.GetOrAdd("nasm:" + name, _ => new Lazy<string>(() =>
            {
                string s = Path.Combine(Directory, name + ".asm"), o = Path.Combine(Directory, name + ".o");
                File.WriteAllText(s, source);
                Run("nasm", $"-f elf64 -o {o} {s}");
                return o;
            })).Value;

        public static string Run(string tool, string arguments)
        {
            var psi = new ProcessStartInfo(tool, arguments)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var p = Process.Start(psi)!;
            var stderr = p.StandardError.ReadToEndAsync();
            string stdout = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            if (p.ExitCode != 0)
                throw new InvalidOperationException($"{tool} {arguments} failed ({p.ExitCode}):\n{stdout}{stderr.Result}");
            return stdout + stderr.Result;
        }
    }
}
