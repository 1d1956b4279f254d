; Inno Setup 6 script: installs the PyInstaller one-folder build of DermScreen on Windows.
; NOT BUILT OR RUN IN THIS PROJECT'S CI (Linux only); see installers/windows/BUILD.md.
;   iscc /DAppVersion=0.1.0 installers\windows\dermscreen.iss
; Input:  installers\dist\dermscreen\   (built on Windows with installers\pyinstaller\dermscreen.spec)
; Output: installers\dist\DermScreen-<version>-setup.exe

#ifndef AppVersion
  #define AppVersion "0.1.0"
#endif
#define AppName "DermScreen"
#define BundleDir "..\dist\dermscreen"

[Setup]
; A fixed AppId keeps upgrades in place; never change it between releases.
AppId={{6B8E3C1F-2D4A-4E7B-9C55-0F1D2A3B4C5D}
AppName={#AppName}
AppVersion={#AppVersion}
AppPublisher=DermScreen project
DefaultDirName={autopf}\{#AppName}
DefaultGroupName={#AppName}
DisableProgramGroupPage=yes
OutputDir=..\dist
OutputBaseFilename=DermScreen-{#AppVersion}-setup
Compression=lzma2/max
SolidCompression=yes
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
; Per-machine install (Program Files); the app writes only to %LOCALAPPDATA%\DermScreen.
PrivilegesRequired=admin
UninstallDisplayIcon={app}\dermscreen-gui.exe
WizardStyle=modern
; Windows 10 1809 or later (Qt 6 and ONNX Runtime requirement).
MinVersion=10.0.17763

[Languages]
Name: "english"; MessagesFile: "compiler:Default.isl"

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Files]
; The whole one-folder bundle: dermscreen.exe (console: analyze, check-gpu),
; dermscreen-gui.exe (no console) and _internal\ (Python, Qt, ONNX Runtime, default model).
Source: "{#BundleDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs
Source: "..\..\docs\INSTALL.md"; DestDir: "{app}"; DestName: "INSTALL.md"; Flags: ignoreversion

[Icons]
Name: "{group}\{#AppName}"; Filename: "{app}\dermscreen-gui.exe"
Name: "{group}\{#AppName} GPU check"; Filename: "{cmd}"; Parameters: "/k ""{app}\dermscreen.exe"" check-gpu"
Name: "{group}\Uninstall {#AppName}"; Filename: "{uninstallexe}"
Name: "{autodesktop}\{#AppName}"; Filename: "{app}\dermscreen-gui.exe"; Tasks: desktopicon

[Run]
Filename: "{app}\dermscreen-gui.exe"; Description: "{cm:LaunchProgram,{#AppName}}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; Only what the installer put there; user models, settings and logs under
; %LOCALAPPDATA%\DermScreen are kept.
Type: filesandordirs; Name: "{app}\_internal"
