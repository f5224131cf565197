// Panics: the kernel cannot go on. Print what we know — the fault, the registers and
// a call trace symbolised from the kernel's own symbol table — then stop. Under QEMU
// with `-device isa-debug-exit,iobase=0xf4,iosize=0x04` the machine then exits with
// status 33, so a test never waits on a dead kernel.
using Percy.Kernel.Arch;
using Percy.Kernel.Console;

namespace Percy.Kernel
{
    internal static unsafe class Panic
    {
        const ushort DebugExitPort = 0xF4;
        const byte DebugExitPanic = 0x10;           // QEMU exits with (0x10 << 1) | 1 = 33
        const int MaxFrames = 32;
        const ulong FrameWindow = 64 * 1024;        // a frame pointer further than this up the stack is garbage

        const int NoCpu = -1;
        static int s_panicCpu = NoCpu;              // the CPU that is reporting, once one is
        static bool s_panicking;

        // True once some CPU has begun a panic: the others, stopped by an NMI, halt quietly.
        public static bool InProgress => s_panicking;
        static ElfSymbolTable s_symbols;

        public static void SetSymbolTable(ElfSymbolTable symbols) => s_symbols = symbols;
        public static ElfSymbolTable SymbolTable => s_symbols;

        public static void Fail(string reason) => Fail($"{reason}");

        public static void Fail(TextLine reason)
        {
            Enter();
            Console.Console.WriteLine($"panic: {reason}");
            Console.Console.WriteLine($"panic: cpu={Boot.CpuId}");
            CallTrace(0, Cpu.ReadFramePointer());
            Stop();
        }

        public static void Exception(InterruptFrame* f)
        {
            Enter();
            Console.Console.WriteLine($"panic: {ExceptionName(f->Vector)} in kernel mode");
            Console.Console.WriteLine($"panic: vector={f->Vector} error={f->ErrorCode:x} cpu={Boot.CpuId}");
            Console.Console.WriteLine($"panic: rip={f->Rip:x16} rsp={f->Rsp:x16} cr2={Cpu.ReadCr2():x16} rflags={f->Rflags:x}");
            Console.Console.WriteLine($"panic: rax={f->Rax:x16} rbx={f->Rbx:x16} rcx={f->Rcx:x16} rdx={f->Rdx:x16}");
            Console.Console.WriteLine($"panic: rsi={f->Rsi:x16} rdi={f->Rdi:x16} rbp={f->Rbp:x16} r8={f->R8:x16}");
            Console.Console.WriteLine($"panic: r9={f->R9:x16} r10={f->R10:x16} r11={f->R11:x16} r12={f->R12:x16}");
            Console.Console.WriteLine($"panic: r13={f->R13:x16} r14={f->R14:x16} r15={f->R15:x16} cr3={Cpu.ReadCr3():x16}");
            CallTrace(f->Rip, f->Rbp);
            Stop();
        }

        static void Enter()
        {
            Cpu.DisableInterrupts();
            int me = (int)Boot.CpuId;
            fixed (int* owner = &s_panicCpu)
            {
                int previous = Smp.Atomic.CompareExchange(owner, NoCpu, me);
                if (previous == me)
                {
                    // A fault while reporting a fault: say so and stop without touching more state.
                    Serial.Write("\r\npanic: recursive fault during panic\r\n");
                    Stop();
                }
                // Another CPU is already reporting: let it finish, and stay out of its way.
                if (previous != NoCpu) Cpu.HaltForever();
            }
            s_panicking = true;
            // Stop the other CPUs (an NMI gets through even with their interrupts off), so
            // nothing changes under the report and no second report interleaves with it.
            Smp.SmpBoot.StopOtherCpus();
        }

        // Walks the frame-pointer chain: ILC code keeps RBP frames, [rbp] = caller's rbp,
        // [rbp + 8] = return address. Every pointer is checked before it is followed.
        static void CallTrace(ulong rip, ulong rbp)
        {
            Console.Console.WriteLine("call trace:");
            if (rip != 0) PrintFrame(rip);
            KernelLayout layout = KernelLayout.Current;
            for (int i = 0; i < MaxFrames; i++)
            {
                if (rbp == 0 || (rbp & 7) != 0 || rbp < layout.DataStart || rbp + 16 > layout.End) break;
                ulong ret = *(ulong*)(rbp + 8);
                ulong next = *(ulong*)rbp;
                if (ret < layout.TextStart || ret >= layout.TextEnd) break;
                PrintFrame(ret);
                if (next <= rbp || next - rbp > FrameWindow) break;
                rbp = next;
            }
        }

        static void PrintFrame(ulong addr)
        {
            TextLine line = $"  [<{addr:x16}>] ";
            if (s_symbols.TryLookup(addr, out byte* name, out int length, out ulong offset))
            {
                line.AppendBytes(name, length);
                line.AppendFormatted($"+0x{offset:x}");
            }
            else line.AppendLiteral("?");
            Console.Console.WriteLine(line);
        }

        static void Stop()
        {
            Console.Console.WriteLine("panic: system halted");
            Cpu.OutB(DebugExitPort, DebugExitPanic);
            Cpu.HaltForever();
        }

        static string ExceptionName(ulong vector) => vector switch
        {
            0 => "divide error",
            1 => "debug",
            2 => "non-maskable interrupt",
            3 => "breakpoint",
            4 => "overflow",
            5 => "bound range exceeded",
            6 => "invalid opcode",
            7 => "device not available",
            8 => "double fault",
            10 => "invalid TSS",
            11 => "segment not present",
            12 => "stack-segment fault",
            13 => "general protection fault",
            14 => "page fault",
            16 => "x87 floating-point error",
            17 => "alignment check",
            18 => "machine check",
            19 => "SIMD floating-point exception",
            20 => "virtualization exception",
            21 => "control protection exception",
            _ => "reserved exception",
        };
    }
}
