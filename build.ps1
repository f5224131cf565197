#!/usr/bin/env pwsh
# Percy's build entry point for PowerShell: runs the C# build driver in build/ with all arguments.
#   ./build.ps1 --help    ./build.ps1 iso    ./build.ps1 run --smp 4    ./build.ps1 test
# Same as `dotnet run --project build/Percy.Build.csproj -c Release -- $args`, but the
# driver is compiled only when its sources changed and then executed directly (see build.sh).
Set-StrictMode -Version Latest
# Not 'Stop': Windows PowerShell turns a native tool's stderr into terminating errors under
# it. Failures are checked through $LASTEXITCODE instead.
$ErrorActionPreference = 'Continue'

$project = Join-Path $PSScriptRoot 'build/Percy.Build.csproj'
$driver = Join-Path $PSScriptRoot 'build/bin/Release/net10.0/Percy.Build.dll'

if (-not (Get-Command dotnet -ErrorAction SilentlyContinue)) {
    [Console]::Error.WriteLine("build.ps1: 'dotnet' not found; Percy's build needs the .NET 10 SDK.")
    [Console]::Error.WriteLine('  Install it: https://learn.microsoft.com/dotnet/core/install/')
    exit 1
}

$env:DOTNET_NOLOGO = '1'
$env:DOTNET_CLI_TELEMETRY_OPTOUT = '1'
$env:DOTNET_SKIP_FIRST_TIME_EXPERIENCE = '1'

# Stale when missing, or when anything in build/ outside bin/ and obj/ is newer (build/
# itself too, so a deleted source file also triggers a rebuild).
$stale = -not (Test-Path $driver)
if (-not $stale) {
    $builtAt = (Get-Item $driver).LastWriteTimeUtc
    $buildDirectory = Get-Item (Join-Path $PSScriptRoot 'build')
    $sources = @($buildDirectory) + @(Get-ChildItem -Path $buildDirectory.FullName -Force |
        Where-Object { $_.Name -notin @('bin', 'obj') } |
        ForEach-Object { $_; if ($_.PSIsContainer) { Get-ChildItem -Path $_.FullName -Recurse -Force } })
    $stale = @($sources | Where-Object { $_.LastWriteTimeUtc -gt $builtAt }).Count -gt 0
}

if ($stale) {
    $log = & dotnet build $project -c Release --nologo -v quiet -tl:off 2>&1
    if ($LASTEXITCODE -ne 0) {
        $log | ForEach-Object { [Console]::Error.WriteLine($_) }
        [Console]::Error.WriteLine('build.ps1: the build driver (build/) failed to compile; fix the errors above')
        exit 1
    }
}

& dotnet $driver @args
exit $LASTEXITCODE
