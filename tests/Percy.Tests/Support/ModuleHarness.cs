// Runs the kernel's module-loader stages (kernel/modules) on a file the way the loader
// will: parse, lay out, copy the sections, build the per-CPU template, resolve, relocate.
// The file, the image and the template live in pinned arrays that stay alive with the
// harness object (the kernel code keeps raw pointers into them).
using System;
using System.Collections.Generic;
using System.Text;
using Percy.Kernel.Modules;

namespace Percy.Tests.Support
{
    public sealed unsafe class DictionaryResolver : SymbolResolver
    {
        public readonly Dictionary<string, (ulong Value, bool PerCpu)> Symbols = new();
        public readonly List<string> Asked = new();

        public DictionaryResolver Add(string name, ulong value, bool perCpu = false)
        {
            Symbols[name] = (value, perCpu);
            return this;
        }

        public override bool Resolve(byte* name, int length, out ulong value, out bool perCpu)
        {
            string s = Encoding.ASCII.GetString(name, length);
            Asked.Add(s);
            if (Symbols.TryGetValue(s, out var v)) { value = v.Value; perCpu = v.PerCpu; return true; }
            value = 0;
            perCpu = false;
            return false;
        }
    }

    public sealed unsafe class ModuleHarness
    {
        public const ulong PageSize = 4096;

        public byte[] File;
        public ElfRelocatable Elf;
        public ModuleImageLayout Layout;
        public Relocator Relocator;
        public byte[] Image;
        public byte[] PerCpuTemplate;
        public ModuleImageRegions Regions;
        public ulong Base;

        public static string Text(in ElfError e)
        {
            var sb = new StringBuilder();
            for (int i = 0; i < e.Length; i++) sb.Append((char)e[i]);
            return sb.ToString();
        }

        // Parse only: null, or the error line.
        public static string Parse(byte[] file, out ModuleHarness h)
        {
            h = new ModuleHarness { File = GC.AllocateArray<byte>(file.Length, pinned: true) };
            file.CopyTo(h.File, 0);
            fixed (byte* p = h.File)
            {
                if (!ElfRelocatable.TryParse(p, (ulong)file.Length, out h.Elf, out ElfError e)) return Text(e);
            }
            return null;
        }

        public static string ParseAndLayOut(byte[] file, out ModuleHarness h)
        {
            string error = Parse(file, out h);
            if (error != null) return error;
            if (!ModuleImageLayout.TryBuild(h.Elf, PageSize, out h.Layout, out ElfError e)) return Text(e);
            return null;
        }

        // All stages, the image contiguous at `runtimeBase`. null, or the error line.
        public static string Load(byte[] file, ulong runtimeBase, ulong perCpuOffset, SymbolResolver resolver, out ModuleHarness h)
        {
            string error = ParseAndLayOut(file, out h);
            if (error != null) return error;
            h.Base = runtimeBase;
            h.Image = GC.AllocateArray<byte>((int)h.Layout.ImageSize + 1, pinned: true);
            h.PerCpuTemplate = GC.AllocateArray<byte>((int)h.Layout.PerCpuSize + 1, pinned: true);
            fixed (byte* image = h.Image)
            fixed (byte* template = h.PerCpuTemplate)
            {
                h.Regions = h.Layout.Contiguous(runtimeBase, image);
                h.Regions.PerCpuOffset = perCpuOffset;
                h.Regions.PerCpuTemplate = h.Layout.PerCpuSection >= 0 ? template : null;
                h.Layout.CopySections(h.Regions);
                h.Layout.CopyPerCpuTemplate(h.Regions.PerCpuTemplate);
                bool ok = Relocator.Relocate(h.Layout, h.Regions, resolver, out h.Relocator, out ElfError e);
                return ok ? null : Text(e);
            }
        }

        public string SymbolName(uint index)
        {
            byte* n = Elf.SymbolName(index, out int length);
            return Encoding.ASCII.GetString(n, length);
        }

        // The image bytes of a loaded section.
        public byte[] SectionImage(int section)
        {
            ulong offset = Layout.Region(section) switch
            {
                ModuleRegion.Text => Layout.TextOffset,
                ModuleRegion.ReadOnly => Layout.ReadOnlyOffset,
                ModuleRegion.Data => Layout.DataOffset,
                _ => throw new ArgumentException($"section {section} is not in the image"),
            };
            offset += Layout.OffsetInRegion(section);
            var r = new byte[Elf.Section(section).Size];
            Array.Copy(Image, (long)offset, r, 0, r.Length);
            return r;
        }

        public ulong SectionAddress(int section) => Layout.SectionAddress(section, Regions);

        // Reads 8 bytes of the image at a runtime address.
        public ulong ReadU64(ulong address) => BitConverter.ToUInt64(Image, (int)(address - Base));
    }
}
