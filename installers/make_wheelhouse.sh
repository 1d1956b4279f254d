#!/usr/bin/env bash
# On a CONNECTED machine: download every wheel DermScreen needs, hash-checked, for the
# workstation platforms, plus the app's own wheel, the default model and the GPU check.
# Carry the resulting folder to the air-gapped workstation and run there (docs/INSTALL.md):
#   python3.11 -m venv dermscreen-venv
#   dermscreen-venv/bin/pip install --no-index --find-links wheelhouse --require-hashes \
#       -r wheelhouse/requirements-app.lock
#
#   bash installers/make_wheelhouse.sh [--relock] [--with-cuda]
#     --relock     re-resolve installers/requirements-app.lock from pyproject.toml first
#     --with-cuda  add the CUDA 13 / cuDNN 9 wheels (requirements-cuda.lock; several GB)
# Environment: WHEELHOUSE (default installers/wheelhouse), WHEELHOUSE_TARGETS ("linux win"),
#   PYTHON (default python3.11), WHEELHOUSE_MODEL (default: the app's default model,
#   DEFAULT_MODEL_NAME in desktop_app/core/base/paths.py)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
WH=${WHEELHOUSE:-installers/wheelhouse}
TARGETS=${WHEELHOUSE_TARGETS:-linux win}
DEFAULT_NAME=$(sed -n 's/^DEFAULT_MODEL_NAME = "\(.*\)".*/\1/p' desktop_app/core/base/paths.py)
MODEL=${WHEELHOUSE_MODEL:-resources/models/$DEFAULT_NAME}
relock=0
cuda=0
for arg in "$@"; do
  case "$arg" in
    --relock) relock=1 ;;
    --with-cuda) cuda=1 ;;
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "make_wheelhouse.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
started=$(date +%s)
pip_quiet() { "$@" 2> >(grep -v "is ignored: it is neither a file nor a directory" >&2); }
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

if [ "$relock" = 1 ]; then
  step "re-lock the runtime requirements"
  pip_quiet "$PYTHON" installers/lock_requirements.py
fi

mkdir -p "$WH"
locks=(installers/requirements-app.lock)
[ "$cuda" = 1 ] && locks+=(installers/requirements-cuda.lock)
for target in $TARGETS; do
  for lock in "${locks[@]}"; do
    step "download $(basename "$lock") wheels for $target"
    # Markers are decided per target here: pip would judge them by this machine.
    req=$(mktemp)
    "$PYTHON" installers/lock_requirements.py --out "$lock" --print-target "$target" > "$req"
    # shellcheck disable=SC2046  # one --platform per word
    pip_quiet "$PYTHON" -m pip download -q --no-deps --require-hashes --only-binary=:all: \
      --python-version 3.11 --implementation cp \
      $("$PYTHON" installers/lock_requirements.py --print-platforms "$target") \
      -d "$WH" -r "$req"
    rm -f "$req"
  done
done

step "the app's own wheel"
# Built from a clean copy: setuptools leaves build/ and *.egg-info in the source tree,
# and stale files there could end up in the wheel.
src=$(mktemp -d)
trap 'rm -rf "$src"' EXIT
cp -r pyproject.toml README.md desktop_app training export "$src/"
find "$src" -name __pycache__ -prune -exec rm -rf {} +
rm -f "$WH"/dermscreen-*.whl
pip_quiet "$PYTHON" -m pip wheel -q --no-deps -w "$WH" "$src"
app_wheel=$(ls "$WH"/dermscreen-*.whl)
app_version=$(basename "$app_wheel" | cut -d- -f2)

step "install lists"
# The committed lock plus the app pinned to the wheel just built: one file, all hashed.
{
  cat installers/requirements-app.lock
  echo "dermscreen==$app_version \\"
  echo "    --hash=sha256:$(sha256sum "$app_wheel" | cut -d' ' -f1)"
} > "$WH/requirements-app.lock"
[ "$cuda" = 1 ] && cp installers/requirements-cuda.lock "$WH/requirements-cuda.lock"

step "default model and tools"
rm -rf "$WH/resources" "$WH/tools"   # never carry a model left from an earlier run
mkdir -p "$WH/resources/models" "$WH/tools"
if [ -f "$MODEL" ]; then
  cp "$MODEL" "$WH/resources/models/$DEFAULT_NAME"
  ( cd "$WH/resources/models" && sha256sum "$DEFAULT_NAME" > "$DEFAULT_NAME.sha256" )
  card="${MODEL%.onnx}.md"
  [ -f "$card" ] && cp "$card" "$WH/resources/models/${DEFAULT_NAME%.onnx}.md"
else
  echo "warning: $MODEL missing: the wheelhouse carries no default model (set WHEELHOUSE_MODEL)" >&2
fi
# The other bundled models (e.g. the reference) travel too, each with its hash and card.
for onnx in resources/models/*.onnx; do
  name=$(basename "$onnx")
  [ "$name" = "$DEFAULT_NAME" ] && continue
  [ -f "$onnx.sha256" ] || { echo "warning: $onnx has no .sha256: not shipped" >&2; continue; }
  cp "$onnx" "$onnx.sha256" "$WH/resources/models/"
  [ -f "${onnx%.onnx}.md" ] && cp "${onnx%.onnx}.md" "$WH/resources/models/"
done
cp installers/check_gpu.py "$WH/tools/check_gpu.py"
cp docs/INSTALL.md "$WH/INSTALL.md"

step "checksums"
( cd "$WH" && find . -type f ! -name SHA256SUMS | sort | sed 's#^\./##' | xargs -d '\n' sha256sum > SHA256SUMS )
echo
echo "wheelhouse: $WH ($(du -sh "$WH" | cut -f1), $(ls "$WH"/*.whl | wc -l) wheels, targets: $TARGETS)"
echo "install on the workstation (offline):"
echo "  pip install --no-index --find-links $WH --require-hashes -r $WH/requirements-app.lock"
echo "time: $(( $(date +%s) - started ))s"
