// Accesses that are expected to fault, for self-tests of page protection: a write to
// kernel text must fault, data must not execute, a guard page must not be there.
// A fault inside a probe is recovered and recorded (address and error code) for the
// caller to report; the probe returns true.
using System.Runtime;
using System.Runtime.CompilerServices;

namespace Percy.Kernel.Arch
{
    internal static unsafe class FaultProbe
    {
        public const int PageFaultVector = 14;
        // Page-fault error code bits.
        public const ulong FaultPresent = 1, FaultWrite = 2, FaultInstructionFetch = 16;

        [RuntimeImport("*", "percy_probe_write")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern ulong ProbeWrite(ulong address);
        [RuntimeImport("*", "percy_probe_execute")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern ulong ProbeExecute(ulong address);
        [RuntimeImport("*", "percy_probe_sites")] [MethodImpl(MethodImplOptions.InternalCall)]
        static extern void ProbeSites(ulong* sites);

        static ulong s_readAccess, s_writeAccess, s_writeFixup, s_executeTarget;
        static ulong s_lastErrorCode, s_lastAddress;

        public static ulong LastErrorCode => s_lastErrorCode;
        public static ulong LastAddress => s_lastAddress;

        // True if reading or writing the byte at address faulted. The byte written is the
        // one just read, so a write that succeeds changes nothing.
        public static bool WriteFaults(ulong address)
        {
            Arm();
            s_lastErrorCode = 0;
            return ProbeWrite(address) != 0;
        }

        // True if fetching an instruction at address faulted. The address must hold a
        // `ret` (0xC3) for the case where it does not fault.
        public static bool ExecuteFaults(ulong address)
        {
            Arm();
            s_lastErrorCode = 0;
            s_executeTarget = address;
            ulong faulted = ProbeExecute(address);
            s_executeTarget = 0;
            return faulted != 0;
        }

        static void Arm()
        {
            if (s_writeAccess != 0) return;
            ulong* sites = stackalloc ulong[3];
            ProbeSites(sites);
            s_readAccess = sites[0];
            s_writeAccess = sites[1];
            s_writeFixup = sites[2];
        }

        // Called for every page fault: true if it came from a probe and was recovered.
        public static bool TryRecover(InterruptFrame* f)
        {
            ulong address = Cpu.ReadCr2();
            if (s_writeAccess != 0 && (f->Rip == s_readAccess || f->Rip == s_writeAccess))
                f->Rip = s_writeFixup;
            else if (s_executeTarget != 0 && f->Rip == s_executeTarget)
            {
                // The fetch faulted at the call's target: return to the caller as `ret` would.
                f->Rip = *(ulong*)f->Rsp;
                f->Rsp += 8;
                f->Rax = 1;
            }
            else return false;
            s_lastErrorCode = f->ErrorCode;
            s_lastAddress = address;
            return true;
        }
    }
}
