// insmod and rmmod: links a module (.kmod, an ELF64 relocatable object; docs/modules.md)
// into the running kernel and takes it out again, leaving nothing behind.
//
// Load, in the order that lets every failure undo exactly what was done:
//   1. check the file (ElfRelocatable: every header, offset, size, index before use), its
//      name (.modinfo name=, not loaded yet) and its entry points; lay out the image
//      (ModuleImageLayout: W^X regions, the GOT, the per-CPU template)
//   2. the module record and its reference count: a per-CPU long (ModuleRefcount)
//   3. the image: pages in the module area, mapped writable (ModuleMemory)
//   4. percpu_modalloc: the module's per-CPU section from the dynamic per-CPU allocator,
//      exactly its size rounded to 4 bytes, in pages shared with other allocations. There
//      is no module reserve to guess: a module without per-CPU data costs 0 bytes per CPU,
//      and the only limit is the unit's virtual size (seed 002's 16,800-byte module loads)
//   5. copy the sections, build the per-CPU template, resolve and relocate (Relocator;
//      ModuleSymbols: the kernel's exports, then other modules' exports, which become
//      dependencies), record the module's own exports
//   6. copy the template into every possible CPU's copy of the section; final protections
//   7. list it (Coming) and run percy_module_init(args); non-zero: take it all back
// Unload: refuse while another module uses it; mark it going and synchronise with every
// CPU (ModuleRefcount explains why that makes the count exact); busy unless the count is
// 0 (or wait for it to fall); then percy_module_exit and free every byte the load took.
//
// Errors are one line (ElfError) for the shell to print after `insmod: NAME: error: `.
using Percy.Kernel.Arch;
using Percy.Kernel.Console;
using Percy.Kernel.Mm;
using Percy.Kernel.Percpu;
using Percy.Kernel.Smp;

namespace Percy.Kernel.Modules
{
    internal static unsafe class ModuleLoader
    {
        const string InitName = Elf.ModuleInitName, ExitName = Elf.ModuleExitName;
        const ulong PerCpuGranule = 4;
        const int WaitPollMs = 1;
        const byte CtrlC = 3;

        // The per-load tables of the pure stages, freed as soon as the module is linked.
        struct Work
        {
            public ElfRelocatable Elf;
            public ModuleImageLayout Layout;
            public Relocator Relocator;
            public ModuleSymbols Symbols;
            public byte* Template;
        }

        public static void Init() => ModuleMemory.Init();

        // Loads the module in `file` and runs its init with `args` (the insmod text after
        // the module's name). The new module, or null with the reason in `error`.
        public static Module Load(byte* file, ulong length, byte* args, int argsLength, out ElfError error)
        {
            Work w = default;
            Module m = Link(file, length, ref w, out error);
            ReleaseWork(ref w);
            if (m == null) return null;

            ModuleList.Add(m);
            int result = m.Init(args, (ulong)argsLength);
            if (result == 0)
            {
                m.State = ModuleState.Live;
                return m;
            }
            m.State = ModuleState.Going;
            ModuleList.Remove(m);
            Discard(m);
            error.Fail($"percy_module_init failed: {result}{ErrnoName(result)}");
            return null;
        }

        static Module Link(byte* file, ulong length, ref Work w, out ElfError error)
        {
            if (!ElfRelocatable.TryParse(file, length, out w.Elf, out error)) return null;
            ElfRelocatable elf = w.Elf;
            ModuleStrings info = ModuleStrings.Of(elf, Elf.ModInfoSectionName);
            if (!info.TryGet("name", out byte* name, out int nameLength))
            {
                error.Fail($"no name= in {Elf.ModInfoSectionName}: not built as a Percy module");
                return null;
            }
            string bad = ModuleName.Validate(name, nameLength);
            if (bad != null)
            {
                error.Fail($"{Elf.ModInfoSectionName} name=: {bad}");
                return null;
            }
            if (ModuleList.Find(name, nameLength) != null)
            {
                TextLine line = $"a module named ";
                line.AppendBytes(name, nameLength);
                line.AppendLiteral(" is already loaded");
                error.Fail(line);
                return null;
            }
            uint init = elf.FindDefinedGlobal(InitName), exit = elf.FindDefinedGlobal(ExitName);
            if (init == 0 || exit == 0)
            {
                error.Fail($"no {(init == 0 ? InitName : ExitName)}: every module defines both entry points");
                return null;
            }
            if (!ModuleImageLayout.TryBuild(elf, AddressSpace.PageSize, out w.Layout, out error)) return null;
            ModuleImageLayout layout = w.Layout;
            if (layout.Region((int)elf.Symbol(init).SectionIndex) != ModuleRegion.Text || layout.Region((int)elf.Symbol(exit).SectionIndex) != ModuleRegion.Text)
            {
                error.Fail($"{InitName} and {ExitName} must be in executable sections");
                return null;
            }
            ulong perCpuSize = (layout.PerCpuSize + PerCpuGranule - 1) & ~(PerCpuGranule - 1);
            if (perCpuSize > DynamicPerCpu.Allocator.UnitVm)
            {
                error.Fail($"its per-CPU section ({layout.PerCpuSize} bytes) is larger than a unit (percpu.unit_vm={DynamicPerCpu.Allocator.UnitVm})");
                return null;
            }

            var m = new Module { File = file, FileLength = length, State = ModuleState.Coming };
            m.Name.Set(name, nameLength);
            if (!Build(m, perCpuSize, ref w, init, exit, out error))
            {
                Discard(m);
                return null;
            }
            return m;
        }

        // Steps 2-6; on failure, Discard(m) takes back whatever is recorded in m.
        static bool Build(Module m, ulong perCpuSize, ref Work w, uint init, uint exit, out ElfError error)
        {
            error = default;
            ModuleImageLayout layout = w.Layout;
            m.Refcount = (ModuleRefcount*)Heap.Allocate((ulong)sizeof(ModuleRefcount));
            if (!PerCpuAlloc(ModuleRefcount.CounterSize, ModuleRefcount.CounterSize, out m.Refcount->Counter, ref error)) return false;
            m.HasRefcount = true;

            string failure = ModuleMemory.Map(layout.ImageSize, out m.ImageBase);
            if (failure != null) return error.Fail($"image of {layout.ImageSize} bytes: {failure}");
            m.ImageSize = layout.ImageSize;
            if (!PercpuModalloc(m, perCpuSize, layout, ref w, ref error)) return false;

            ModuleImageRegions regions = layout.Contiguous(m.ImageBase, (byte*)m.ImageBase);
            regions.PerCpuOffset = m.PerCpuHandle;
            regions.PerCpuTemplate = w.Template;
            layout.CopySections(regions);
            layout.CopyPerCpuTemplate(w.Template);
            w.Symbols = new ModuleSymbols();
            if (!Relocator.Relocate(layout, regions, w.Symbols, out w.Relocator, out error)) return false;
            if (!RecordExports(m, w.Elf, w.Relocator, ref error)) return false;

            for (int cpu = 0; cpu < Cpus.NrCpuIds; cpu++)
                if (Cpus.Possible.Has(cpu) && m.PerCpuSize != 0)
                    Memory.Move((byte*)DynamicPerCpu.Ptr(m.PerCpuHandle, cpu), w.Template, (nuint)m.PerCpuSize);
            ModuleMemory.Protect(layout, m.ImageBase);

            m.Init = (delegate*<byte*, ulong, int>)w.Relocator.SymbolValue(init);
            m.Exit = (delegate*<void>)w.Relocator.SymbolValue(exit);
            m.Uses = new Module[w.Symbols.UseCount];
            for (int i = 0; i < m.Uses.Length; i++)
            {
                m.Uses[i] = w.Symbols.Use(i);
                m.Uses[i].UsedBy++;
            }
            return true;
        }

        // Linux's percpu_modalloc: the module's .data..percpu from the dynamic allocator
        // (no reserve), and a template to relocate before it is copied to every CPU.
        static bool PercpuModalloc(Module m, ulong size, ModuleImageLayout layout, ref Work w, ref ElfError error)
        {
            if (size == 0) return true;
            ulong align = layout.PerCpuAlignment < PerCpuGranule ? PerCpuGranule : layout.PerCpuAlignment;
            if (!PerCpuAlloc(size, align, out m.PerCpuHandle, ref error)) return false;
            m.PerCpuSize = size;
            w.Template = (byte*)Heap.Allocate(size);
            return true;
        }

        static bool PerCpuAlloc(ulong size, ulong align, out ulong handle, ref ElfError error)
        {
            string failure = DynamicPerCpu.Alloc(size, align, false, out handle);
            return failure == null || error.Fail($"per-CPU allocation of {size} bytes: {failure}");
        }

        // The names in .percy_exports, each defined by the module, none already exported by
        // the kernel or a loaded module; copied into one heap block with their values.
        static bool RecordExports(Module m, ElfRelocatable elf, Relocator relocator, ref ElfError error)
        {
            ModuleStrings names = ModuleStrings.Of(elf, Elf.ExportsSectionName);
            int count = 0;
            ulong bytes = 0, cursor = 0;
            while (names.Next(ref cursor, out byte* name, out int length))
            {
                if (!CheckExport(elf, name, length, ref error)) return false;
                count++;
                bytes += (ulong)length;
            }
            if (count == 0) return true;
            var exports = (ModuleExport*)Heap.Allocate((ulong)count * (ulong)sizeof(ModuleExport) + bytes);
            byte* text = (byte*)(exports + count);
            cursor = 0;
            for (int i = 0; names.Next(ref cursor, out byte* name, out int length); i++)
            {
                uint symbol = elf.FindDefinedGlobal(name, length);
                Memory.Move(text, name, (nuint)length);
                exports[i] = new ModuleExport { Name = text, Length = length, Value = relocator.SymbolValue(symbol), PerCpu = relocator.IsPerCpu(symbol) };
                text += length;
            }
            m.Exports = exports;
            m.ExportCount = count;
            return true;
        }

        static bool CheckExport(ElfRelocatable elf, byte* name, int length, ref ElfError error)
        {
            TextLine line = $"exports ";
            ElfRelocatable.AppendName(ref line, name, length);
            if (elf.FindDefinedGlobal(name, length) == 0) line.AppendLiteral(", which it does not define");
            else if (KernelExportTable.Find(name, length) >= 0) line.AppendLiteral(", which the kernel exports");
            else
            {
                Module owner = ModuleList.FindExport(name, length, out _);
                if (owner == null) return true;
                line.AppendLiteral(", which ");
                owner.Name.AppendTo(ref line);
                line.AppendLiteral(" already exports");
            }
            return error.Fail(line);
        }

        static void ReleaseWork(ref Work w)
        {
            if (w.Relocator != null) w.Relocator.Release(&Heap.FreeObject);
            if (w.Layout != null) w.Layout.Release(&Heap.FreeObject);
            if (w.Elf != null) w.Elf.Release(&Heap.FreeObject);
            if (w.Symbols != null) w.Symbols.Release();
            if (w.Template != null) Heap.Free(w.Template);
            w = default;
        }

        // Frees everything a module holds, in the reverse order of Build.
        static void Discard(Module m)
        {
            if (m.Uses != null)
            {
                for (int i = 0; i < m.Uses.Length; i++) m.Uses[i].UsedBy--;
                Heap.FreeObject(m.Uses);
            }
            if (m.Exports != null) Heap.Free(m.Exports);
            if (m.PerCpuSize != 0) DynamicPerCpu.Free(m.PerCpuHandle);
            if (m.ImageSize != 0) ModuleMemory.Unmap(m.ImageBase, m.ImageSize);
            if (m.HasRefcount) DynamicPerCpu.Free(m.Refcount->Counter);
            if (m.Refcount != null) Heap.Free(m.Refcount);
            Heap.FreeObject(m);
            // Depopulated per-CPU pages wait for a batched TLB shootdown; an unload gives its
            // memory back now, so the page allocator reads as before the load.
            DynamicPerCpu.PurgeWaitingFrames();
        }

        // rmmod. waiting: null to refuse a busy module; else it is told the count once, and
        // Unload keeps the module going and waits for the count to reach 0 (Ctrl-C on the
        // console gives up). True when it was unloaded; else the reason is in `error`.
        public static bool Unload(Module m, delegate*<Module, long, void> waiting, out ElfError error)
        {
            error = default;
            if (m.UsedBy > 0)
            {
                TextLine line = $"in use by ";
                AppendUsers(m, ref line);
                return error.Fail(line);
            }
            ModuleRefcount* r = m.Refcount;
            r->Going = 1;
            SmpCall.Call(SmpCall.AllCpus, &Synchronise, null, true);
            long count = ModuleRefcount.Sum(r);
            if (count != 0 && waiting != null)
            {
                waiting(m, count);
                while ((count = ModuleRefcount.Sum(r)) != 0 && !Input.TakeInterrupt(CtrlC)) Sleep(WaitPollMs);
            }
            if (count != 0)
            {
                r->Going = 0;
                return error.Fail($"busy (refcnt={count})");
            }
            m.State = ModuleState.Going;
            m.Exit();
            ModuleList.Remove(m);
            Discard(m);
            return true;
        }

        // Every CPU runs this with interrupts off: after it, no try_module_get is half done.
        static void Synchronise(void* unused) { }

        static void AppendUsers(Module m, ref TextLine line)
        {
            bool first = true;
            for (Module user = ModuleList.First; user != null; user = user.Next)
            {
                for (int i = 0; i < user.Uses.Length; i++)
                {
                    if (user.Uses[i] != m) continue;
                    if (!first) line.Append(',');
                    user.Name.AppendTo(ref line);
                    first = false;
                }
            }
        }

        // Halts (never spins) for about `ms`: the LAPIC timer, a console byte or an IPI wakes it.
        // Interrupts are off from before the timer starts until the `sti; hlt` pair, so a timer
        // that fires at once is taken at the hlt instead of before it (which would halt for good).
        static void Sleep(int ms)
        {
            Cpu.DisableInterrupts();
            Apic.StartOneShot(Apic.TimerTicksPerMs * (uint)ms);
            Cpu.WaitForInterrupt();
            Cpu.EnableInterrupts();
        }

        static string ErrnoName(int result) => result switch
        {
            -1 => " (EPERM)",
            -2 => " (ENOENT)",
            -5 => " (EIO)",
            -12 => " (ENOMEM)",
            -16 => " (EBUSY)",
            -22 => " (EINVAL)",
            _ => "",
        };
    }
}
