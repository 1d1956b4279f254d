#!/usr/bin/env bash
# Install the DermScreen one-folder bundle on Linux (no network needed).
#   tar -xzf dermscreen-VERSION-linux-x86_64.tar.gz && sudo ./dermscreen/install.sh
#   ./dermscreen/install.sh --user                  (into ~/.local, no root)
#   ./dermscreen/install.sh --prefix DIR [--no-desktop]
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
prefix=""
user=0
desktop=1
while [ $# -gt 0 ]; do
  case "$1" in
    --user) user=1 ;;
    --prefix) prefix=${2:?--prefix needs a folder}; shift ;;
    --no-desktop) desktop=0 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
if [ -z "$prefix" ]; then
  if [ "$user" = 1 ]; then prefix="$HOME/.local/opt/dermscreen"; else prefix=/opt/dermscreen; fi
fi
if [ ! -x "$src/dermscreen" ]; then
  echo "install.sh: $src/dermscreen missing: run the script from the unpacked bundle" >&2
  exit 1
fi
if [ "$user" = 1 ]; then
  bindir="$HOME/.local/bin"; appdir="${XDG_DATA_HOME:-$HOME/.local/share}/applications"
else
  bindir=/usr/local/bin; appdir=/usr/share/applications
fi

# Copy into a fresh folder beside the target, then swap it in: an interrupted install
# never leaves a half-copied program behind.
mkdir -p "$(dirname "$prefix")"
staging="$prefix.new.$$"
rm -rf "$staging"
cp -a "$src" "$staging"
rm -rf "$prefix.old"
[ -e "$prefix" ] && mv "$prefix" "$prefix.old"
mv "$staging" "$prefix"
rm -rf "$prefix.old"

mkdir -p "$bindir"
ln -sfn "$prefix/dermscreen" "$bindir/dermscreen"
if [ "$desktop" = 1 ]; then
  mkdir -p "$appdir"
  icon=applications-science
  for candidate in dermscreen.svg dermscreen.png; do
    if [ -f "$prefix/_internal/resources/icons/$candidate" ]; then
      icon="$prefix/_internal/resources/icons/$candidate"
      break
    fi
  done
  sed -e "s#^Exec=.*#Exec=$prefix/dermscreen %F#" -e "s#^Icon=.*#Icon=$icon#" \
    "$src/dermscreen.desktop" > "$appdir/dermscreen.desktop"
  command -v update-desktop-database >/dev/null 2>&1 && update-desktop-database "$appdir" || true
fi
echo "installed DermScreen in $prefix (command: $bindir/dermscreen)"
"$prefix/dermscreen" --version
