// Where the build's outputs are, for the tests that read them: the modules
// (iso/out/modules/<name>.kmod, one per modules/<name>/ folder) and the kernel
// (iso/out/percy.elf, or $PERCY_ELF as `./build.sh test` sets it). A missing file fails
// the test with what to run (never skips it): the outputs are part of the build.
using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Xunit;

namespace Percy.Tests.Support
{
    public static class BuiltModules
    {
        const string SdkFolder = "sdk";
        public const string Suffix = ".kmod";

        public static string Root()
        {
            string dir = AppContext.BaseDirectory;
            while (dir != null && !File.Exists(Path.Combine(dir, "build.sh"))) dir = Path.GetDirectoryName(dir);
            return dir;
        }

        // Every modules/<name>/ folder but the SDK, sorted.
        public static List<string> Names()
            => Directory.EnumerateDirectories(Path.Combine(Root(), "modules"))
                .Select(Path.GetFileName).Where(n => n != SdkFolder).Order(StringComparer.Ordinal).ToList();

        public static string KmodPath(string name) => Path.Combine(Root(), "iso", "out", "modules", name + Suffix);

        public static string RequireKmod(string name)
        {
            string path = KmodPath(name);
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh modules first");
            return path;
        }

        public static byte[] KmodBytes(string name) => File.ReadAllBytes(RequireKmod(name));

        public static string KernelElf()
        {
            string path = Environment.GetEnvironmentVariable("PERCY_ELF");
            if (string.IsNullOrEmpty(path)) path = Path.Combine(Root(), "iso", "out", "percy.elf");
            Assert.True(File.Exists(path), $"{path} is missing: run ./build.sh kernel first");
            return path;
        }
    }
}
