using Percy.Harness;
using Xunit;

namespace Percy.Qemu.Tests;

/// <summary>Host tests of the harness's pure logic: terminal lines, grub.cfg edits, log parsing.</summary>
public class TerminalLineTests
{
    private static (List<OutputLine> Lines, List<PromptMark> Prompts, TerminalLineAssembler T) Feed(params string[] chunks)
    {
        var lines = new List<OutputLine>();
        var prompts = new List<PromptMark>();
        var t = new TerminalLineAssembler("percy> ") { LineCompleted = lines.Add, PromptSeen = prompts.Add };
        long ms = 0;
        foreach (var c in chunks) t.Feed(c, ms += 10);
        return (lines, prompts, t);
    }

    [Fact]
    public void Strips_carriage_returns_and_ansi_sequences()
    {
        var (lines, _, _) = Feed("\x1b" + "c\x1b[?7l\x1b[2J\x1b[0mSeaBIOS (version 1)\r\n", "\x1b[0;30;47mWelcome to GRUB!\r\n", "\x1b(Bplain\x1b[01;01H\r\n");
        Assert.Equal(new[] { "SeaBIOS (version 1)", "Welcome to GRUB!", "plain" }, lines.Select(l => l.Text));
    }

    [Fact]
    public void Escape_sequences_split_across_chunks()
    {
        var (lines, _, _) = Feed("a\x1b", "[3", "1mb\x1b", "[0mc\r", "\n");
        Assert.Equal("abc", Assert.Single(lines).Text);
    }

    [Fact]
    public void Malformed_escape_does_not_swallow_the_newline()
    {
        var (lines, _, _) = Feed("x\x1b[12\r\ny\n");
        Assert.Equal(new[] { "x", "y" }, lines.Select(l => l.Text));
    }

    [Fact]
    public void Backspace_space_backspace_erases()
    {
        var (lines, _, _) = Feed("percy> versiox\b \bn\r\n");
        Assert.Equal("percy> version", Assert.Single(lines).Text);
    }

    [Fact]
    public void Backspace_with_erase_to_end_of_line()
    {
        var (lines, _, _) = Feed("percy> versiox\b\x1b[Kn\r\n");
        Assert.Equal("percy> version", Assert.Single(lines).Text);
    }

    [Fact]
    public void Grub_style_absolute_cursor_positioning()
    {
        // What GRUB sends when "abx", backspace, "c" is typed at its prompt.
        var (lines, _, _) = Feed("grub> \x1b[9;7Ha\x1b[9;8H\x1b[9;8Hb\x1b[9;9H\x1b[9;9Hx\x1b[9;10H\x1b[9;9H\x1b[9;9H \x1b[9;9H\x1b[9;9Hc\x1b[9;10H\n\r");
        Assert.Equal("grub> abc", Assert.Single(lines).Text);
    }

    [Fact]
    public void Backspace_at_column_zero_stays_put()
    {
        var (lines, _, _) = Feed("\b\b\bab\r\n");
        Assert.Equal("ab", Assert.Single(lines).Text);
    }

    [Fact]
    public void Other_control_characters_are_dropped()
    {
        var (lines, _, _) = Feed("a\u0001\u0007\u007f\u0000b\tc\n");
        Assert.Equal("ab\tc", Assert.Single(lines).Text);
    }

    [Fact]
    public void Prompt_without_newline_is_seen_once()
    {
        var (lines, prompts, t) = Feed("[    0.1] percy: ready\r\n", "percy", "> ");
        Assert.Single(lines);
        var p = Assert.Single(prompts);
        Assert.Equal(1, p.LineIndex);
        Assert.Equal(0, p.Column);
        Assert.Equal("percy> ", t.Partial);

        // Typing and erasing back to the bare prompt does not count as a new prompt.
        t.Feed("x\b \b", 100);
        t.Feed("x\b\x1b[K", 110);
        Assert.Single(prompts);

        t.Feed("version\r\nPercy 0.1\r\npercy> ", 120);
        Assert.Equal(2, prompts.Count);
        Assert.Equal(3, prompts[1].LineIndex);
        Assert.Equal("percy> version", lines[1].Text);
    }

    [Fact]
    public void Prompt_after_output_without_newline_keeps_the_prefix()
    {
        var (_, prompts, _) = Feed("no newline herepercy> ");
        var p = Assert.Single(prompts);
        Assert.Equal(15, p.Column);
        Assert.Equal("no newline here", p.Prefix);
    }

    [Fact]
    public void Line_timestamp_is_when_its_first_byte_arrived()
    {
        var lines = new List<OutputLine>();
        var t = new TerminalLineAssembler("> ") { LineCompleted = lines.Add };
        t.Feed("ab", 5);
        t.Feed("c\n", 50);
        t.Feed("d\n", 70);
        Assert.Equal(new long[] { 5, 70 }, lines.Select(l => l.TimestampMs));
    }

    [Fact]
    public void Flush_completes_a_partial_line()
    {
        var (lines, _, t) = Feed("tail");
        t.Flush(99);
        Assert.Equal("tail", Assert.Single(lines).Text);
    }
}

public class GrubConfigTests
{
    private const string Cfg = "serial --unit=0 --speed=115200\nset timeout=0\nmenuentry \"Percy\" {\n multiboot2 /boot/percy.elf\n boot\n}\n";

    [Fact]
    public void Puts_the_cmdline_on_the_multiboot2_line()
    {
        var cfg = GrubConfig.WithCmdline(Cfg, "foo=bar quiet=0");
        Assert.Contains(" multiboot2 /boot/percy.elf foo=bar quiet=0\n", cfg);
        Assert.StartsWith("serial --unit=0", cfg);
    }

    [Fact]
    public void Replaces_an_existing_cmdline_and_keeps_module_lines()
    {
        var cfg = GrubConfig.WithCmdline("menuentry x {\r\n  multiboot2 /boot/k.elf old=1 other\r\n  module2 /boot/m.kmod m\r\n}\r\n", "new=2");
        Assert.Contains("  multiboot2 /boot/k.elf new=2\r\n", cfg);
        Assert.Contains("  module2 /boot/m.kmod m\r\n", cfg);
    }

    [Fact]
    public void Empty_cmdline_removes_arguments()
    {
        Assert.Contains(" multiboot2 /boot/k.elf\n", GrubConfig.WithCmdline(" multiboot2 /boot/k.elf a=1\n", ""));
    }

    [Theory]
    [InlineData("a=$x", "'a=$x'")]
    [InlineData("it's", "'it'\\''s'")]
    [InlineData("a;b {c}", "'a;b' '{c}'")]
    [InlineData("  spaced   out ", "spaced out")]
    [InlineData("percpu.unit_vm=2M console=ttyS0,115200", "percpu.unit_vm=2M console=ttyS0,115200")]
    public void Quotes_words_grub_would_change(string cmdline, string expected)
    {
        Assert.Equal(expected, GrubConfig.QuoteArgs(cmdline));
    }

    [Fact]
    public void Adds_module_lines_after_the_last_one_as_the_build_writes_them()
    {
        const string withModules = "menuentry x {\r\n  multiboot2 /boot/k.elf a=1\r\n  module2 /boot/font.pf2 font\r\n  module2 /boot/modules/hello.kmod hello.kmod\r\n  boot\r\n}\r\n";
        var cfg = GrubConfig.WithModules(withModules, new[] { "bad_1.kmod", "x+y-z.kmod" });
        Assert.Contains("  module2 /boot/modules/hello.kmod hello.kmod\r\n  module2 /boot/modules/bad_1.kmod bad_1.kmod\r\n" +
                        "  module2 /boot/modules/x+y-z.kmod x+y-z.kmod\r\n  boot\r\n", cfg);
        // Without module lines: right after the kernel's.
        Assert.Contains(" multiboot2 /boot/percy.elf\n module2 /boot/modules/m.kmod m.kmod\n boot\n", GrubConfig.WithModules(Cfg, new[] { "m.kmod" }));
        Assert.Equal(Cfg, GrubConfig.WithModules(Cfg, Array.Empty<string>()));
    }

    [Fact]
    public void Refuses_module_names_the_build_would_refuse_or_that_are_there_already()
    {
        const string cfg = " multiboot2 /boot/k.elf\n module2 /boot/modules/hello.kmod hello.kmod\n";
        Assert.Throws<ArgumentException>(() => GrubConfig.WithModules(cfg, new[] { "hello.kmod" }));
        Assert.Throws<ArgumentException>(() => GrubConfig.WithModules(cfg, new[] { "a.kmod", "a.kmod" }));
        foreach (var bad in new[] { "", "a b.kmod", "a;b", "../x.kmod", "$x" })
            Assert.Throws<ArgumentException>(() => GrubConfig.WithModules(cfg, new[] { bad }));
        Assert.Throws<ArgumentException>(() => GrubConfig.WithModules("set timeout=0\n", new[] { "a.kmod" }));
    }

    [Fact]
    public void Rejects_configs_without_a_kernel_line_and_multiline_cmdlines()
    {
        Assert.Throws<ArgumentException>(() => GrubConfig.WithCmdline("set timeout=0\n", "a"));
        Assert.Throws<ArgumentException>(() => GrubConfig.WithCmdline(Cfg, "a\nb"));
    }
}

public class KernelLogTests
{
    [Fact]
    public void Parses_dmesg_style_lines()
    {
        Assert.True(KernelLog.TryParse("[    0.012345] percy: hello", out var l));
        Assert.Equal("    0", l.SecondsField);
        Assert.Equal(12345, l.Microseconds);
        Assert.Equal("percy: hello", l.Message);
        Assert.False(l.IsErrorOrWarning);

        Assert.True(KernelLog.TryParse("[12345.000001] percy: warn: low memory", out var w));
        Assert.Equal(12345_000_001, w.Microseconds);
        Assert.True(w.IsErrorOrWarning);

        Assert.False(KernelLog.TryParse("[0.1] percy: short", out _));
        Assert.False(KernelLog.TryParse("percy: no timestamp", out _));
        Assert.False(KernelLog.TryParse("[99999999999999999999.000000] x", out _));
    }

    [Fact]
    public void Banner_and_ready_patterns()
    {
        var b = KernelLog.Banner.Match("percy: Percy 0.1.0 (build 3f2a9c1) x86_64");
        Assert.True(b.Success);
        Assert.Equal("Percy 0.1.0 (build 3f2a9c1) x86_64", b.Groups["text"].Value);
        Assert.Matches(KernelLog.Ready, "percy: ready cpus=4 possible=4 boot_ms=35");
        Assert.DoesNotMatch(KernelLog.Ready, "percy: ready cpus=4");
    }
}

public class QemuOptionsTests
{
    const string Iso = "/tmp/x/percy.iso";

    [Fact]
    public void Defaults_boot_the_cd_with_no_cpu_model()
    {
        var a = new QemuOptions().BuildArguments(Iso);
        Assert.DoesNotContain("-cpu", a);
        Assert.Equal(Iso, a[a.ToList().IndexOf("-cdrom") + 1]);
        Assert.Equal("d", a[a.ToList().IndexOf("-boot") + 1]);
    }

    [Theory]
    [InlineData("EPYC", null, "EPYC")]
    [InlineData("Skylake-Server", true, "Skylake-Server,+x2apic")]
    [InlineData("Skylake-Server", false, "Skylake-Server,-x2apic")]
    [InlineData(null, true, "qemu64,+x2apic")]
    public void Cpu_model_and_x2apic_flag_make_one_cpu_argument(string? model, bool? x2apic, string expected)
    {
        var a = new QemuOptions { CpuModel = model, X2Apic = x2apic }.BuildArguments(Iso).ToList();
        Assert.Single(a, "-cpu");
        Assert.Equal(expected, a[a.IndexOf("-cpu") + 1]);
    }

    [Theory]
    [InlineData(UsbController.Xhci, "qemu-xhci,id=usb")]
    [InlineData(UsbController.Ehci, "usb-ehci,id=usb")]
    public void Usb_stick_is_a_read_only_raw_drive_first_in_boot_order(UsbController controller, string device)
    {
        var a = new QemuOptions { Medium = BootMedium.UsbStick, UsbController = controller }.BuildArguments("/tmp/a,b/percy.iso").ToList();
        Assert.DoesNotContain("-cdrom", a);
        Assert.DoesNotContain("-boot", a);
        Assert.Contains("if=none,id=stick,format=raw,readonly=on,file=/tmp/a,,b/percy.iso", a);
        Assert.Contains(device, a);
        Assert.Contains("usb-storage,bus=usb.0,drive=stick,bootindex=0", a);
    }
}
