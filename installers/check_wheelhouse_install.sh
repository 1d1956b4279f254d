#!/usr/bin/env bash
# Test the workstation side of the wheelhouse route on this machine: build a Linux
# wheelhouse (needs the registry), then, with no network and no pip configuration, install
# it into a fresh temporary venv with the documented command and use the installed app.
# Takes minutes; run through its make target, not the quick tests.
#   bash installers/check_wheelhouse_install.sh
# Environment: WHEELHOUSE (default installers/wheelhouse), PYTHON (python3.11),
#   WHEELHOUSE_MODEL (model to carry; default the reference model), SKIP_DOWNLOAD=1 (reuse)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
PYTHON=${PYTHON:-python3.11}
WH=${WHEELHOUSE:-installers/wheelhouse}
DATA=${DERMSCREEN_SHARED:-$REPO/../shared}/data
started=$(date +%s)
fail() { echo "WHEELHOUSE CHECK FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

if [ "${SKIP_DOWNLOAD:-0}" != 1 ]; then
  step "build the Linux wheelhouse (connected side)"
  WHEELHOUSE_TARGETS=linux bash installers/make_wheelhouse.sh
fi
[ -f "$WH/requirements-app.lock" ] || fail "$WH/requirements-app.lock missing"
default_name=$(sed -n 's/^DEFAULT_MODEL_NAME = "\(.*\)".*/\1/p' "$REPO/desktop_app/core/base/paths.py")
[ -f "$WH/resources/models/$default_name" ] \
  || fail "$WH carries no default model (set WHEELHOUSE_MODEL to an exported .onnx)"
WH=$(cd "$WH" && pwd)
( cd "$WH" && sha256sum --quiet -c SHA256SUMS ) || fail "SHA256SUMS does not match the wheelhouse"

tmp=$(mktemp -d /tmp/dermscreen-wheelhouse.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
isolate=()
if unshare -n true 2>/dev/null; then
  isolate=(unshare -n)
  echo "network: none (private network namespace)"
else
  echo "network: present (unshare -n not permitted); pip still runs with --no-index"
fi
# The workstation: no pip configuration (PIP_CONFIG_FILE=/dev/null loads no config file),
# no index, no cache, nothing from this shell's environment.
workstation() {
  (cd "$tmp" && env -i PATH="$tmp/venv/bin:/usr/bin:/bin" HOME="$tmp/home" LANG=C.UTF-8 \
    PIP_CONFIG_FILE=/dev/null PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    QT_QPA_PLATFORM=offscreen DERMSCREEN_HOME="$tmp/home/dermscreen" \
    DERMSCREEN_RESOURCES="$WH/resources" "${isolate[@]}" "$@")
}

step "fresh venv"
mkdir -p "$tmp/home"
"$PYTHON" -m venv "$tmp/venv"

step "offline install (the documented command)"
workstation pip install --no-index --find-links "$WH" --require-hashes -r "$WH/requirements-app.lock"
workstation pip check
if workstation python -c "import tensorflow" 2>/dev/null; then fail "tensorflow is importable"; fi
if workstation python -c "import onnx" 2>/dev/null; then fail "onnx is importable"; fi

step "use the installed app"
out=$(workstation dermscreen --version)
echo "$out"
grep -q "^dermscreen [0-9]" <<<"$out" || fail "dermscreen --version printed: $out"
check=$(workstation python "$WH/tools/check_gpu.py")
echo "$check"
grep -q "^provider running the model: \(CPU\|CUDA\)ExecutionProvider" <<<"$check" \
  || fail "check_gpu.py did not report the provider"
mkdir -p "$tmp/in"
find "$DATA/isic9/Test/nevus" "$DATA/isic9/Test/melanoma" -name '*.jpg' | sort | head -n 4 \
  | while read -r f; do cp "$f" "$tmp/in/"; done
workstation dermscreen analyse "$tmp/in" --out "$tmp/out"
rows=$(( $(wc -l < "$tmp/out/results.csv") - 1 ))
[ "$rows" = 4 ] || fail "results.csv has $rows rows, expected 4"
grep -c ",ok," "$tmp/out/results.csv" | grep -qx 4 || fail "not every row is ok"
echo
echo "wheelhouse install check passed ($(( $(date +%s) - started ))s; venv $(du -sh "$tmp/venv" | cut -f1))"
