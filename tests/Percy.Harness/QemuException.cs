namespace Percy.Harness;

/// <summary>A QEMU run did not do what was expected (timeout, early exit, no echo...).</summary>
/// <remarks>The message carries the last 40 lines of output and QEMU's stderr.</remarks>
public class QemuException : Exception
{
    public QemuException(string message) : base(message) { }
    public QemuException(string message, Exception inner) : base(message, inner) { }
}

/// <summary>A wait, or the whole run, exceeded its time limit.</summary>
public sealed class QemuTimeoutException : QemuException
{
    public QemuTimeoutException(string message) : base(message) { }
}
