; Inno Setup script for NN Studio (Inno Setup 6.3 or newer: https://jrsoftware.org/isinfo.php).
;
; It packages the PyInstaller bundle dist\nnstudio\ (nnstudio.exe + _internal\) into
; dist\nnstudio-<version>-windows-x64-setup.exe with a Start-menu entry, an optional desktop icon, the .nnstudio
; file association (ProgID NNStudio.Project.1: icon + "Open" command) and an uninstaller.
;
; Build (from the repository root; packaging\windows\build_windows.ps1 does all of it):
;   pyinstaller --noconfirm packaging\nnstudio.spec
;   iscc /DAppVersion=0.1.0 [/DSetupIcon=C:\path\nnstudio.ico] packaging\windows\nnstudio.iss
; AppVersion defaults to the value below; pass the one in nnstudio\__init__.py.

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#ifndef BundleDir
  ; relative to this file
  #define BundleDir "..\..\dist\nnstudio"
#endif
; SetupIcon: an .ico for the installer itself (build_windows.ps1 makes one from resources\icons with Pillow).
#define AppName "NN Studio"
#define AppExeName "nnstudio.exe"
#define AppPublisher "NN Studio developers"
#define AssocExt ".nnstudio"
#define AssocProgId "NNStudio.Project.1"
#define AssocName "NN Studio project"

[Setup]
; AppId identifies the app for upgrades and the uninstaller: never change it.
AppId={{11517648-84AF-4EB6-A074-79AF780E3444}
AppName={#AppName}
AppVersion={#AppVersion}
AppVerName={#AppName} {#AppVersion}
AppPublisher={#AppPublisher}
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
; Installs for the current user without admin rights by default; the dialog offers "all users" (admin).
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
MinVersion=10.0
ChangesAssociations=yes
UninstallDisplayIcon={app}\{#AppExeName}
UninstallDisplayName={#AppName}
#ifdef SetupIcon
SetupIconFile={#SetupIcon}
#endif
WizardStyle=modern
OutputDir=..\..\dist
OutputBaseFilename=nnstudio-{#AppVersion}-windows-x64-setup
Compression=lzma2
SolidCompression=yes
LZMANumBlockThreads=4
CloseApplications=yes
RestartApplications=no

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
Name: "associate"; Description: "Open .nnstudio project files with {#AppName}"; GroupDescription: "File types:"

[InstallDelete]
; An upgrade replaces the whole bundle: files of the previous version must not linger beside the new ones.
Type: filesandordirs; Name: "{app}\_internal"

[Files]
Source: "{#BundleDir}\{#AppExeName}"; DestDir: "{app}"; Flags: ignoreversion
Source: "{#BundleDir}\_internal\*"; DestDir: "{app}\_internal"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{autoprograms}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Comment: "Build neural networks visually and watch them learn"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\{#AppExeName}"; Tasks: desktopicon

[Registry]
; HKA is HKCU for a per-user install and HKLM for an all-users one (both under Software\Classes).
; The extension points at the ProgID and lists it under OpenWithProgids.
Root: HKA; Subkey: "Software\Classes\{#AssocExt}"; ValueType: string; ValueName: ""; ValueData: "{#AssocProgId}"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#AssocExt}"; ValueType: string; ValueName: "Content Type"; ValueData: "application/x-nnstudio"; Flags: uninsdeletevalue; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#AssocExt}\OpenWithProgids"; ValueType: string; ValueName: "{#AssocProgId}"; ValueData: ""; Flags: uninsdeletevalue; Tasks: associate
; The ProgID: its name, icon (the program's own) and the command that opens a file.
Root: HKA; Subkey: "Software\Classes\{#AssocProgId}"; ValueType: string; ValueName: ""; ValueData: "{#AssocName}"; Flags: uninsdeletekey; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#AssocProgId}"; ValueType: string; ValueName: "FriendlyTypeName"; ValueData: "{#AssocName}"; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#AssocProgId}\DefaultIcon"; ValueType: string; ValueName: ""; ValueData: "{app}\{#AppExeName},0"; Tasks: associate
Root: HKA; Subkey: "Software\Classes\{#AssocProgId}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""; Tasks: associate
; "Open with" lists the program by name for the type.
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExeName}"; ValueType: string; ValueName: "FriendlyAppName"; ValueData: "{#AppName}"; Flags: uninsdeletekey
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExeName}\SupportedTypes"; ValueType: string; ValueName: "{#AssocExt}"; ValueData: ""
Root: HKA; Subkey: "Software\Classes\Applications\{#AppExeName}\shell\open\command"; ValueType: string; ValueName: ""; ValueData: """{app}\{#AppExeName}"" ""%1"""

[Run]
Filename: "{app}\{#AppExeName}"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent
