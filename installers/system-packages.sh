#!/usr/bin/env bash
# Install the Debian packages the tests and screenshots need, only when missing.
set -euo pipefail
need=()
command -v pdftoppm >/dev/null 2>&1 || need+=(poppler-utils)
command -v Xvfb >/dev/null 2>&1 || need+=(xvfb)
# DICOM tests (issue 26): a real PACS on loopback (Orthanc, in /usr/sbin) and dciodvfy.
command -v Orthanc >/dev/null 2>&1 || [ -x /usr/sbin/Orthanc ] || need+=(orthanc)
command -v dciodvfy >/dev/null 2>&1 || need+=(dicom3tools)
# The SR tests read the TID 1500 tree back with dcmtk's dsrdump (issue 31).
command -v dsrdump >/dev/null 2>&1 || need+=(dcmtk)
for lib in libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libdbus-1-3; do
  dpkg -s "$lib" >/dev/null 2>&1 || need+=("$lib")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing system packages: ${need[*]} (run as root or install them: apt-get install ${need[*]})" >&2
  exit 1
fi
echo "Installing system packages: ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The package enables a system-wide Orthanc service (ports 4242/8042); the tests start their
# own on free loopback ports, so the service is switched off again where systemd runs.
if printf '%s\n' "${need[@]}" | grep -qx orthanc && [ -d /run/systemd/system ]; then
  systemctl disable --now orthanc >/dev/null 2>&1 || true
fi
