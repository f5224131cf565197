// A module's side of the shared runtime (kernel/runtime/Runtime.cs): when a compiler check
// fails (bounds, null, cast), the module panics the kernel with its name in the message.
// Allocation and write barriers are the kernel's own helpers, imported by symbol.
using Percy.Module;

namespace Internal.Runtime
{
    internal static partial class RuntimeFailure
    {
        public static partial void Fail(string reason) => KernelApi.Panic($"{reason}");
    }
}
