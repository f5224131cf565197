// Legacy (ISA) device interrupts through the I/O APICs, when the MADT lists any: each
// ISA IRQ becomes a global system interrupt (GSI) — the same number unless the MADT has
// an interrupt source override, which may also change polarity and trigger mode — and
// the I/O APIC that owns that GSI sends it as vector Pic.VectorBase + irq to the boot
// CPU. The 8259 PICs are then fully masked and LINT0 too, so nothing arrives twice.
// Without an I/O APIC in the MADT, the PIC stays in charge (virtual wire, Apic.cs).
using Percy.Kernel.Acpi;
using Percy.Kernel.Mm;

namespace Percy.Kernel.Arch
{
    internal static unsafe class IoApic
    {
        const uint RegSelect = 0x00, RegWindow = 0x10;         // MMIO: index, then data
        const uint RegVersion = 0x01, RegRedirection = 0x10;   // two 32-bit registers per entry
        const int MaxEntriesShift = 16;
        const uint EntryMasked = 1u << 16, EntryLevel = 1u << 15, EntryActiveLow = 1u << 13;
        const int DestinationShift = 24;                       // in the high dword: physical APIC id
        // MPS INTI flags in an override: polarity bits 1:0, trigger bits 3:2 (0 = bus default).
        const ushort PolarityMask = 0x3, PolarityLow = 0x3, TriggerMask = 0xC, TriggerLevel = 0xC;
        const byte IsaBus = 0;
        const ulong RegisterWindow = 0x20;          // IOREGSEL at +0x00, IOWIN at +0x10

        static MadtInfo s_madt;
        static ulong* s_mmio;                                  // per I/O APIC: mapped registers
        static uint* s_entries;                                // per I/O APIC: redirection entries
        static uint s_destination;                             // APIC id legacy IRQs go to
        static bool s_active;

        public static bool Active => s_active;

        // Boot CPU, after Apic.InitBootCpu. Returns false (PIC stays) when there is no usable I/O APIC.
        public static bool Init(MadtInfo madt)
        {
            if (madt == null || madt.IoApicCount == 0) { Log.Info("ioapic: none in the MADT; legacy IRQs stay on the 8259 PIC"); return false; }
            s_destination = Apic.CurrentId();
            if (s_destination > 0xFF) { Log.Warn("ioapic: warning: boot CPU APIC id above 255 (needs interrupt remapping); legacy IRQs stay on the PIC"); return false; }
            s_madt = madt;
            s_mmio = (ulong*)Heap.Allocate((ulong)(madt.IoApicCount * sizeof(ulong)));
            s_entries = (uint*)Heap.Allocate((ulong)(madt.IoApicCount * sizeof(uint)));
            for (int i = 0; i < madt.IoApicCount; i++)
            {
                s_mmio[i] = (ulong)IoMap.Map(madt.IoApics[i].Address, RegisterWindow, out string error);
                if (error != null) { Log.Warn($"ioapic: warning: cannot map I/O APIC {i}: {error}; legacy IRQs stay on the PIC"); return false; }
                s_entries[i] = (Read(i, RegVersion) >> MaxEntriesShift & 0xFF) + 1;
                for (uint e = 0; e < s_entries[i]; e++) WriteEntry(i, e, EntryMasked, 0);
                Log.Info($"ioapic: {i}: id {madt.IoApics[i].Id} at 0x{madt.IoApics[i].Address:x}, GSIs {madt.IoApics[i].GsiBase}-{madt.IoApics[i].GsiBase + s_entries[i] - 1}");
            }
            s_active = true;
            return true;
        }

        // Routes ISA IRQ `irq` to the boot CPU (unmasked); false when no I/O APIC owns its GSI.
        public static bool Route(int irq)
        {
            uint gsi = (uint)irq;
            ushort flags = 0;
            for (int i = 0; i < s_madt.OverrideCount; i++)
                if (s_madt.Overrides[i].Bus == IsaBus && s_madt.Overrides[i].Source == irq)
                {
                    gsi = s_madt.Overrides[i].Gsi;
                    flags = s_madt.Overrides[i].Flags;
                }
            for (int i = 0; i < s_madt.IoApicCount; i++)
            {
                uint first = s_madt.IoApics[i].GsiBase;
                if (gsi < first || gsi >= first + s_entries[i]) continue;
                // ISA defaults: active high, edge triggered.
                uint low = (uint)(Pic.VectorBase + irq);
                if ((flags & PolarityMask) == PolarityLow) low |= EntryActiveLow;
                if ((flags & TriggerMask) == TriggerLevel) low |= EntryLevel;
                WriteEntry(i, gsi - first, low, s_destination << DestinationShift);
                return true;
            }
            Log.Warn($"ioapic: warning: no I/O APIC has GSI {gsi} (IRQ {irq})");
            return false;
        }

        // High dword first, so the entry is never unmasked with a stale destination.
        static void WriteEntry(int ioapic, uint entry, uint low, uint high)
        {
            Write(ioapic, RegRedirection + 2 * entry, EntryMasked);
            Write(ioapic, RegRedirection + 2 * entry + 1, high);
            Write(ioapic, RegRedirection + 2 * entry, low);
        }

        static uint Read(int ioapic, uint reg)
        {
            *(uint*)(s_mmio[ioapic] + RegSelect) = reg;
            return *(uint*)(s_mmio[ioapic] + RegWindow);
        }

        static void Write(int ioapic, uint reg, uint value)
        {
            *(uint*)(s_mmio[ioapic] + RegSelect) = reg;
            *(uint*)(s_mmio[ioapic] + RegWindow) = value;
        }
    }
}
