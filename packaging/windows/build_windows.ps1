# Build NN Studio for Windows: the PyInstaller bundle (dist\nnstudio\), its self-test, and the Inno Setup
# installer dist\nnstudio-<version>-windows-x64-setup.exe.
#
#   powershell -ExecutionPolicy Bypass -File packaging\windows\build_windows.ps1 [-Python .venv\Scripts\python.exe]
#       [-Iscc "C:\Program Files (x86)\Inno Setup 6\ISCC.exe"] [-SkipSelfTest]
#
# Needs: a virtual environment with the CPU build of torch and `pip install -e .[package]`; Inno Setup 6.3+.
param(
    [string]$Python = "",
    [string]$Iscc = "",
    [switch]$SkipSelfTest
)
$ErrorActionPreference = "Stop"
$Root = (Resolve-Path "$PSScriptRoot\..\..").Path
Set-Location $Root

if (-not $Python) {
    $Python = if (Test-Path ".venv\Scripts\python.exe") { ".venv\Scripts\python.exe" } else { "python" }
}
if (-not $Iscc) {
    $found = Get-Command iscc.exe -ErrorAction SilentlyContinue
    $Iscc = if ($found) { $found.Source } else { "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
}
$Version = (Select-String -Path "nnstudio\__init__.py" -Pattern '^__version__ = "([^"]+)"').Matches[0].Groups[1].Value
Write-Host "NN Studio $Version with $Python"

# 1. The bundle.
& $Python -m PyInstaller --noconfirm --distpath dist --workpath build\pyinstaller packaging\nnstudio.spec
if ($LASTEXITCODE -ne 0) { throw "PyInstaller failed ($LASTEXITCODE)" }
$Exe = Join-Path $Root "dist\nnstudio\nnstudio.exe"

# 2. The self-test. nnstudio.exe is a windowed program: Start-Process -Wait is what waits for it and returns its
#    exit code; the result is in the log, since a windowed program has no console to print to.
if (-not $SkipSelfTest) {
    $Log = Join-Path $Root "build\selftest.log"
    $env:QT_QPA_PLATFORM = "offscreen"
    $proc = Start-Process -FilePath $Exe -ArgumentList @("--self-test", "--self-test-log", "`"$Log`"") -Wait -PassThru
    Remove-Item Env:\QT_QPA_PLATFORM
    if ($proc.ExitCode -ne 0) { throw "self-test failed ($($proc.ExitCode)): $(Get-Content $Log -Tail 1)" }
    Write-Host "self-test passed ($Log)"
}

# 3. An .ico for the installer (the program's own icon PyInstaller already made from the PNG).
$Ico = Join-Path $Root "build\nnstudio.ico"
& $Python -c "from PIL import Image; Image.open(r'resources\icons\nnstudio-256.png').save(r'$Ico', sizes=[(s, s) for s in (16, 24, 32, 48, 64, 128, 256)])"
if ($LASTEXITCODE -ne 0) { throw "could not make $Ico" }

# 4. The installer.
& $Iscc "/DAppVersion=$Version" "/DSetupIcon=$Ico" "packaging\windows\nnstudio.iss"
if ($LASTEXITCODE -ne 0) { throw "Inno Setup failed ($LASTEXITCODE)" }
Get-Item "dist\nnstudio-$Version-windows-x64-setup.exe" | ForEach-Object { Write-Host "wrote $($_.FullName) ($([math]::Round($_.Length / 1MB)) MB)" }
