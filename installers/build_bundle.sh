#!/usr/bin/env bash
# Build the DermScreen one-folder bundle with PyInstaller, check what is inside, write its
# SBOM and (on Linux) a tarball. Output: installers/dist/. Prints the bundle size.
#
# Environment:
#   PYTHON                    interpreter for the build venv (default python3.11)
#   BUNDLE_VENV               build venv (default build/bundle-venv; rebuilt when the lock changes)
#   DERMSCREEN_BUNDLE_MODEL   model to ship as the default (default: the app's, DEFAULT_MODEL_NAME
#                             in desktop_app/core/base/paths.py)
#   DERMSCREEN_BUNDLE_CPU_ONLY=1  leave out ONNX Runtime's CUDA/TensorRT provider libraries
#   BUNDLE_TARBALL=0          skip the .tar.gz
#   BUNDLE_DIST, BUNDLE_WORK  output and work folders (default installers/dist, build/pyinstaller)
# `build_bundle.sh --sbom-only` prepares the build venv and writes the SBOM alone.
set -euo pipefail
sbom_only=0
[ "${1:-}" = --sbom-only ] && sbom_only=1
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3.11}
VENV=${BUNDLE_VENV:-build/bundle-venv}
DIST=${BUNDLE_DIST:-installers/dist}
WORK=${BUNDLE_WORK:-build/pyinstaller}
STAGE=build/bundle-resources
# The app's own default model name, from its one home.
DEFAULT_NAME=$(sed -n 's/^DEFAULT_MODEL_NAME = "\(.*\)".*/\1/p' "$REPO/desktop_app/core/base/paths.py")
MODEL=${DERMSCREEN_BUNDLE_MODEL:-resources/models/$DEFAULT_NAME}
started=$(date +%s)
# One build at a time: two PyInstaller runs into the same dist/ folder break each other.
mkdir -p build
exec 9> build/.bundle-build.lock
flock -n 9 || { echo "error: another bundle build is running (build/.bundle-build.lock)" >&2; exit 1; }

# This machine's pip config names local mirrors that may be missing; their warnings are noise.
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

version=$("$PYTHON" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
tools=$("$PYTHON" -c 'import tomllib; print(" ".join(tomllib.load(open("pyproject.toml","rb"))["project"]["optional-dependencies"]["package"]))')

step "build venv $VENV (app runtime lock + $tools)"
want=$(cat installers/requirements-app.lock <(echo "$tools" "$("$PYTHON" -V)") | sha256sum | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.dermscreen-stamp" 2>/dev/null)" != "$want" ]; then
  rm -rf "$VENV"
  "$PYTHON" -m venv "$VENV"
  pip_quiet nice -n 10 "$VENV/bin/python" -m pip install -q --upgrade pip==25.3
  # Exactly the locked, hash-checked runtime set the wheelhouse ships, nothing from training.
  pip_quiet nice -n 10 "$VENV/bin/python" -m pip install -q --require-hashes -r installers/requirements-app.lock
  # shellcheck disable=SC2086  # $tools is a list of pinned requirements
  pip_quiet nice -n 10 "$VENV/bin/python" -m pip install -q $tools
  echo "$want" > "$VENV/.dermscreen-stamp"
else
  echo "up to date"
fi
# The training stack must not even be importable where the bundle is analysed.
"$VENV/bin/python" - <<'PY'
import importlib.util, sys
present = [m for m in ("tensorflow", "keras", "tf2onnx", "onnx", "matplotlib") if importlib.util.find_spec(m)]
if present:
    sys.exit(f"build venv holds {present}: it must hold the app's runtime only")
PY

if [ "$sbom_only" = 1 ]; then
  mkdir -p "$DIST"
  "$VENV/bin/python" installers/sbom.py --out "$DIST/dermscreen-sbom.cdx.json"
  exit 0
fi

step "stage resources (default model $MODEL)"
if [ ! -f "$MODEL" ]; then
  echo "error: $MODEL: no default model to bundle. Export one (dermscreen-export) and place it there," >&2
  echo "       or point DERMSCREEN_BUNDLE_MODEL at an exported .onnx file." >&2
  exit 1
fi
# Every model that travels must match its .sha256 (the app refuses a mismatch anyway).
for onnx in "$MODEL" resources/models/*.onnx; do
  [ -f "$onnx" ] && [ -f "$onnx.sha256" ] || continue
  expected=$(awk '{print $1; exit}' "$onnx.sha256")
  actual=$(sha256sum "$onnx" | cut -d' ' -f1)
  if [ "$expected" != "$actual" ]; then
    echo "error: $onnx: SHA-256 $actual does not match $onnx.sha256 ($expected)" >&2
    exit 1
  fi
done
# All of resources/ (icons, every model with its hash and card); the chosen default
# model replaces resources/models/$DEFAULT_NAME when it is another file.
rm -rf "$STAGE"
mkdir -p "$STAGE"
cp -r resources/. "$STAGE/"
mkdir -p "$STAGE/models"
if [ "$(realpath "$MODEL")" != "$(realpath -m "resources/models/$DEFAULT_NAME")" ]; then
  cp "$MODEL" "$STAGE/models/$DEFAULT_NAME"
  ( cd "$STAGE/models" && sha256sum "$DEFAULT_NAME" > "$DEFAULT_NAME.sha256" )
  rm -f "$STAGE/models/${DEFAULT_NAME%.onnx}.md"
  card="${MODEL%.onnx}.md"
  [ -f "$card" ] && cp "$card" "$STAGE/models/${DEFAULT_NAME%.onnx}.md"
fi
# Installed by root, read by every clinician's account.
chmod -R u=rwX,go=rX "$STAGE"
ls -l "$STAGE/models"

step "PyInstaller (one folder, UPX off)"
rm -rf "$DIST/dermscreen"
DERMSCREEN_BUNDLE_RESOURCES="$REPO/$STAGE" nice -n 10 "$VENV/bin/pyinstaller" --noconfirm \
  --log-level WARN --distpath "$DIST" --workpath "$WORK" installers/pyinstaller/dermscreen.spec

step "check the bundle's contents"
"$VENV/bin/python" installers/verify_bundle.py "$DIST/dermscreen" --listing "$DIST/dermscreen-contents.txt"

step "SBOM (CycloneDX JSON)"
"$VENV/bin/python" installers/sbom.py --out "$DIST/dermscreen-sbom.cdx.json"
cp "$DIST/dermscreen-sbom.cdx.json" "$DIST/dermscreen/"

tarball=""
if [ "$(uname -s)" = Linux ]; then
  cp installers/linux/dermscreen.desktop installers/linux/install.sh "$DIST/dermscreen/"
fi
if [ "$(uname -s)" = Linux ] && [ "${BUNDLE_TARBALL:-1}" = 1 ]; then
  step "Linux tarball"
  tarball="$DIST/dermscreen-$version-linux-x86_64.tar.gz"
  tar -C "$DIST" -cf - dermscreen | nice -n 10 gzip -6 > "$tarball.tmp"
  mv "$tarball.tmp" "$tarball"
fi

elapsed=$(( $(date +%s) - started ))
echo
echo "bundle:       $DIST/dermscreen ($(du -sh "$DIST/dermscreen" | cut -f1), $(find "$DIST/dermscreen" -type f | wc -l) files)"
echo "bundle size:  $(du -sb "$DIST/dermscreen" | cut -f1) bytes"
[ -n "$tarball" ] && echo "tarball:      $tarball ($(du -h "$tarball" | cut -f1))"
echo "SBOM:         $DIST/dermscreen-sbom.cdx.json"
echo "listing:      $DIST/dermscreen-contents.txt"
echo "build time:   ${elapsed}s"
