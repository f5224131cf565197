// Picks the screen the boot loader left us: VGA text (BIOS boots) or a linear RGB
// framebuffer (UEFI boots), drawn with the PF2 font that the ISO passes as the boot
// module named "font". With neither, the console is serial only.
using Percy.Kernel.Mm;
using Percy.Kernel.Multiboot;

namespace Percy.Kernel.Console
{
    internal static unsafe class Screen
    {
        public const string FontModule = "font";

        // Returns a reason when a screen was offered but could not be used.
        public static string Init(BootInformation info)
        {
            FramebufferInfo fb = info.Framebuffer;
            if (!fb.Present)
            {
                // BIOS boots without a framebuffer tag are in VGA text mode.
                Vga.Init(DirectMap.Offset, 80, 25);
                return null;
            }
            if (fb.Type == FramebufferType.EgaText)
            {
                Vga.Init(DirectMap.Offset, (int)fb.Width, (int)fb.Height);
                return Vga.Present ? null : "unsupported text mode size";
            }
            if (fb.Type != FramebufferType.Rgb) return "indexed-colour framebuffers are not supported";
            ulong size = (ulong)fb.Pitch * fb.Height;
            if (!DirectMap.Covers(fb.Address, size)) return "framebuffer lies outside mapped memory";
            if (!BootModules.TryFind(info, FontModule, out byte* font, out ulong fontSize)) return "no font module";
            if (!Pf2Font.TryParse(font, fontSize, out Pf2Font pf2, out string error)) return error;
            bool ok = FramebufferConsole.Init(DirectMap.ToVirtual(fb.Address), fb.Pitch, fb.Width, fb.Height,
                                              fb.BitsPerPixel, fb.RedPosition, fb.GreenPosition, fb.BluePosition, pf2);
            return ok ? null : "framebuffer format not supported";
        }
    }
}
