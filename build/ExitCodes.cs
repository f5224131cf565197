namespace Percy.Build;

internal static class ExitCodes
{
    public const int Success = 0;
    public const int Failure = 1;

    // Same convention as most Unix tools: 2 means the command line itself was wrong.
    public const int Usage = 2;

    // Shells report death by signal as 128 + signal number; mirror that when cancelled.
    public const int Interrupted = 130;
}
