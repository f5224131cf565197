// Keyboard and serial input meet here: interrupt handlers put bytes into a ring,
// the shell takes them out and halts the CPU while the ring is empty.
// Serial input is never dropped: when the ring is full, bytes stay in the UART's FIFO
// (a sender such as QEMU then waits) and are drained as the shell consumes the ring.
using Percy.Kernel.Arch;

namespace Percy.Kernel.Console
{
    internal static unsafe class Input
    {
        const int SerialIrq = 4;
        const int RingSize = 256;                   // a power of two
        static byte* s_ring;
        static uint s_head, s_tail;                 // written only by the IRQ path / only by the reader

        public static void Init()
        {
            s_ring = (byte*)Heap.Allocate(RingSize);
            Interrupts.SetIrqHandler(SerialIrq, &OnSerialInterrupt);
            Serial.EnableReceiveInterrupt();
            Keyboard.Init();
        }

        // Keyboard bytes cannot be held back: when the ring is full they are dropped.
        public static void Put(byte b)
        {
            if (s_head - s_tail == RingSize) return;
            s_ring[s_head++ % RingSize] = b;
        }

        // Blocks (halting, never spinning) until a byte arrives.
        public static byte Read()
        {
            for (;;)
            {
                Cpu.DisableInterrupts();
                DrainSerial();
                if (s_tail != s_head)
                {
                    byte b = s_ring[s_tail++ % RingSize];
                    Cpu.EnableInterrupts();
                    return b;
                }
                Cpu.WaitForInterrupt();
            }
        }

        // True (and the byte taken) when the next input byte is `b`: a long command (rmmod
        // --wait) can stop on Ctrl-C without eating input typed ahead for the shell.
        public static bool TakeInterrupt(byte b)
        {
            Cpu.DisableInterrupts();
            DrainSerial();
            bool hit = s_tail != s_head && s_ring[s_tail % RingSize] == b;
            if (hit) s_tail++;
            Cpu.EnableInterrupts();
            return hit;
        }

        static void OnSerialInterrupt() => DrainSerial();

        static void DrainSerial()
        {
            while (s_head - s_tail < RingSize && Serial.TryRead(out byte b)) s_ring[s_head++ % RingSize] = b;
        }
    }
}
