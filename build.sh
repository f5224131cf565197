#!/usr/bin/env bash
# Percy's build entry point: runs the C# build driver in build/ with all arguments.
#   ./build.sh --help    ./build.sh iso    ./build.sh run --smp 4    ./build.sh test
# Same as `dotnet run --project build/Percy.Build.csproj -c Release -- "$@"`, but the
# driver is compiled only when its sources changed and then executed directly: that
# saves ~2 s per call and leaves QEMU alone with the terminal (no dotnet-run in between).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
project="$root/build/Percy.Build.csproj"
driver="$root/build/bin/Release/net10.0/Percy.Build.dll"

if ! command -v dotnet >/dev/null 2>&1; then
    echo "build.sh: 'dotnet' not found; Percy's build needs the .NET 10 SDK." >&2
    echo "  Install it: https://learn.microsoft.com/dotnet/core/install/linux" >&2
    echo "  or: curl -sSL https://dot.net/v1/dotnet-install.sh | bash -s -- --channel 10.0" >&2
    exit 1
fi

export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Stale when missing, or when anything in build/ outside bin/ and obj/ is newer (directories
# count too, so a deleted source file also triggers a rebuild).
stale=1
if [[ -f "$driver" ]]; then
    newer="$(find "$root/build" \( -path "$root/build/bin" -o -path "$root/build/obj" \) -prune -o -newer "$driver" -print -quit)"
    [[ -z "$newer" ]] && stale=0
fi

if (( stale )); then
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
    if ! dotnet build "$project" -c Release --nologo -v quiet -tl:off >"$log" 2>&1; then
        cat "$log" >&2
        echo "build.sh: the build driver (build/) failed to compile; fix the errors above" >&2
        exit 1
    fi
    rm -f "$log"
    trap - EXIT
fi

exec dotnet "$driver" "$@"
