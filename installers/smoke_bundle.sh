#!/usr/bin/env bash
# Smoke test of the built bundle (installers/dist/dermscreen), as a workstation would run it:
# a clean environment (no venv, no repo on the path, a temporary home), no network at all
# where this machine allows a private network namespace (unshare -n), offscreen Qt.
#   1. `dermscreen --version`
#   2. `dermscreen check-gpu`: the bundled default model loads; which provider runs it
#   3. `dermscreen calibrate` on 32 real benign images -> a site profile; `profiles export`,
#      `remove` and `import` it back (what moving a profile between workstations does)
#   4. `dermscreen analyse --profile SITE --dicom` on real images, one DICOM object (JPEG
#      baseline, decoded by the bundled pylibjpeg) and one bad file -> CSV rows and columns
#      checked, the profile named in every row, a DICOM SR for the DICOM input
#   5. the SBOM beside the bundle is CycloneDX JSON listing every locked package
#   6. the Linux installer script puts it in a prefix and the installed copy starts
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
BUNDLE=${BUNDLE:-installers/dist/dermscreen}
DATA=${DERMSCREEN_SHARED:-$REPO/../shared}/data
PY=${CHECK_PYTHON:-.venv/bin/python}   # only reads CSV/JSON and the expected columns
started=$(date +%s)
# Not while a build is rewriting the bundle.
mkdir -p build
exec 9> build/.bundle-build.lock
flock -n 9 || { echo "error: a bundle build is running (build/.bundle-build.lock)" >&2; exit 1; }
fail() { echo "SMOKE FAIL: $*" >&2; exit 1; }
step() { printf '\n== %s (%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

[ -x "$BUNDLE/dermscreen" ] || fail "$BUNDLE/dermscreen missing: run installers/build_bundle.sh first"
[ -d "$DATA/isic9/Test" ] || fail "$DATA/isic9/Test missing (the shared data must sit beside the repo)"
BUNDLE=$(cd "$BUNDLE" && pwd)
tmp=$(mktemp -d /tmp/dermscreen-smoke.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home"

isolate=()
if unshare -n true 2>/dev/null; then
  isolate=(unshare -n)
  echo "network: none (private network namespace)"
else
  echo "network: present (unshare -n not permitted here); the pytest socket test covers it"
fi
# A workstation's environment: nothing from this repo, its venv or this shell.
run_bundle() {
  (cd "$tmp" && env -i PATH=/usr/bin:/bin HOME="$tmp/home" LANG=C.UTF-8 \
    QT_QPA_PLATFORM=offscreen DERMSCREEN_HOME="$tmp/home/dermscreen" \
    "${isolate[@]}" "$@")
}

step "dermscreen --version"
want_version=$("$PY" -c 'import tomllib; print(tomllib.load(open("pyproject.toml","rb"))["project"]["version"])')
version_out=$(run_bundle "$BUNDLE/dermscreen" --version 2>&1) || fail "--version exited $?: $version_out"
echo "$version_out"
grep -q "$want_version" <<<"$version_out" || fail "--version does not print $want_version"

step "dermscreen check-gpu (default model)"
check_out=$(run_bundle "$BUNDLE/dermscreen" check-gpu 2>&1) || fail "check-gpu exited $?: $check_out"
echo "$check_out"
grep -q "^provider running the model: \(CPU\|CUDA\)ExecutionProvider" <<<"$check_out" \
  || fail "check-gpu did not report the provider"
default_name=$(sed -n 's/^DEFAULT_MODEL_NAME = "\(.*\)".*/\1/p' "$REPO/desktop_app/core/base/paths.py")
grep -q "_internal/resources/models/$default_name" <<<"$check_out" \
  || fail "check-gpu did not load the bundled default model"

step "dermscreen calibrate + profiles export / remove / import"
mkdir -p "$tmp/benign"
# 32 follow-up nevi (the 30-image minimum and two more), as a site calibrates on its own benign images.
# (the whole sorted list first: `| head` would end `find | sort` with SIGPIPE under pipefail)
mapfile -t benign < <(find "$DATA/ham-extra/benign/nv" -name '*.jpg' | sort)
[ "${#benign[@]}" -ge 32 ] || fail "fewer than 32 images in $DATA/ham-extra/benign/nv"
cp "${benign[@]:0:32}" "$tmp/benign/"
run_bundle "$BUNDLE/dermscreen" calibrate "$tmp/benign" --name "Smoke Site" --who smoke \
  > "$tmp/calibrate.log" 2>&1 || { cat "$tmp/calibrate.log"; fail "calibrate exited non-zero"; }
cat "$tmp/calibrate.log"
grep -q "^stored: " "$tmp/calibrate.log" || fail "calibrate stored no profile"
run_bundle "$BUNDLE/dermscreen" profiles export "Smoke Site" "$tmp/smoke-site.json" \
  --signed-off-by "Smoke Lead" || fail "profiles export exited $?"
run_bundle "$BUNDLE/dermscreen" profiles remove "Smoke Site" --model \
  "$BUNDLE/_internal/resources/models/$default_name" || fail "profiles remove exited $?"
run_bundle "$BUNDLE/dermscreen" profiles import "$tmp/smoke-site.json" || fail "profiles import exited $?"
list_out=$(run_bundle "$BUNDLE/dermscreen" profiles list 2>&1) || fail "profiles list exited $?"
echo "$list_out"
grep -q "^Smoke Site .*signed off by Smoke Lead.*imported" <<<"$list_out" \
  || fail "the imported profile is not listed as signed off and imported"

step "dermscreen analyse --profile --dicom (headless)"
mkdir -p "$tmp/in"
# Two images from each of four classes (folder names with spaces), one full-resolution
# original when present, one DICOM dermoscopy object (a real JPEG as JPEG baseline pixel
# data, named like a PACS export, no suffix) and one bad file that must become an error
# row, not a crash.
for cls in nevus melanoma "basal cell carcinoma" "pigmented benign keratosis"; do
  find "$DATA/isic9/Test/$cls" -name '*.jpg' | sort | head -n 2 | while read -r f; do
    cp "$f" "$tmp/in/${cls// /_}-$(basename "$f")"
  done
done
full=$(find "$DATA/uda1-fullres" -name '*.jpg' 2>/dev/null | sort | head -n 1)
[ -n "$full" ] && cp "$full" "$tmp/in/fullres-$(basename "$full")"
dicom_src=$(find "$DATA/isic9/Test/melanoma" -name '*.jpg' | sort | tail -n 1)
"$PY" - "$dicom_src" "$tmp/in/IM0001" <<'PY'
import sys
from pathlib import Path
sys.path.insert(0, ".")
from tests.support.dicom_inputs import dermoscopy_jpeg

dermoscopy_jpeg(Path(sys.argv[1]), Path(sys.argv[2]))
PY
echo "this is not an image" > "$tmp/in/zz-notes.jpg"
mapfile -t inputs < <(find "$tmp/in" -type f | sort)
t0=$(date +%s)
set +e
run_bundle "$BUNDLE/dermscreen" analyze "${inputs[@]}" --out "$tmp/out" --profile "Smoke Site" \
  --dicom > "$tmp/analyze.log" 2>&1
analyze_rc=$?
set -e
cat "$tmp/analyze.log"
echo "analyze exit status $analyze_rc, $(( $(date +%s) - t0 ))s for ${#inputs[@]} files"
# Exit status 0 even with a bad file (it becomes an error row), per `dermscreen analyse --help`.
"$PY" - "$tmp/out" "$analyze_rc" "${inputs[@]}" <<'PY'
import csv, sys
from pathlib import Path
sys.path.insert(0, ".")
import pydicom
from desktop_app.core.inference.decision_rules import TRIAGE_LABEL
from desktop_app.core.inference.results import CSV_COLUMNS

out, rc, inputs = Path(sys.argv[1]), int(sys.argv[2]), [Path(p) for p in sys.argv[3:]]
report = out / "results.csv"
if not report.is_file():
    sys.exit(f"SMOKE FAIL: no {report}")
with report.open(newline="", encoding="utf-8-sig") as fh:  # written with a BOM for Excel
    reader = csv.DictReader(fh)
    rows = list(reader)
    columns = tuple(reader.fieldnames or ())
if columns != CSV_COLUMNS:
    sys.exit(f"SMOKE FAIL: CSV columns {columns} != {CSV_COLUMNS}")
if sorted(Path(r["path"]).name for r in rows) != sorted(p.name for p in inputs):
    sys.exit(f"SMOKE FAIL: CSV rows {[r['path'] for r in rows]} do not match the inputs")
bad = [r for r in rows if r["status"] != "ok"]
if [Path(r["path"]).name for r in bad] != ["zz-notes.jpg"] or not bad[0]["error_code"]:
    sys.exit(f"SMOKE FAIL: expected exactly zz-notes.jpg to fail, got {bad}")
good = [r for r in rows if r["status"] == "ok"]
decided = set(TRIAGE_LABEL.values()) - {"error"}
if any(float(r["score"]) < 0 or r["triage"] not in decided for r in good):
    sys.exit(f"SMOKE FAIL: an ok row lacks a score or a triage label in {sorted(decided)}")
if any(not r["site_profile"].startswith("Smoke Site (n 32") for r in good):
    sys.exit(f"SMOKE FAIL: rows do not name the site profile: {[r['site_profile'] for r in good]}")
if "IM0001" not in {Path(r["path"]).name for r in good}:
    sys.exit("SMOKE FAIL: the DICOM input was not analysed")
source_uid = pydicom.dcmread(next(p for p in inputs if p.name == "IM0001")).SOPInstanceUID
srs = []
for f in sorted((out / "dicom").rglob("*.dcm")):
    if f.is_file():
        ds = pydicom.dcmread(f)
        if ds.Modality == "SR" and source_uid in str(ds):
            srs.append(f.name)
if not srs:
    sys.exit("SMOKE FAIL: no DICOM SR references the DICOM input's SOP Instance UID")
if rc != 0:
    sys.exit(f"SMOKE FAIL: analyze exited {rc}")
print(f"CSV {report.name}: {len(rows)} rows x {len(columns)} columns; "
      f"{len(good)} ok (DICOM input included), error row: {bad[0]['error_code']}; "
      f"providers {sorted({r['provider'] for r in good})}; site profile {good[0]['site_profile']}; "
      f"DICOM SR for the DICOM input: {srs[0]}")
PY

step "SBOM"
"$PY" - "$BUNDLE/../dermscreen-sbom.cdx.json" installers/requirements-app.lock <<'PY'
import json, re, sys
bom = json.load(open(sys.argv[1], encoding="utf-8"))
lock = open(sys.argv[2], encoding="utf-8").read()
canon = lambda n: re.sub(r"[-_.]+", "-", n).lower()
pinned = {canon(m[0]): m[1] for m in re.findall(r"^([A-Za-z0-9_.-]+)==([^\s;\\]+)", lock, re.M)}
listed = {canon(c["name"]): c["version"] for c in bom["components"]}
if bom.get("bomFormat") != "CycloneDX":
    sys.exit("SMOKE FAIL: SBOM is not CycloneDX")
missing = {n: v for n, v in pinned.items() if listed.get(n) != v}
if missing:
    sys.exit(f"SMOKE FAIL: SBOM lacks locked packages {missing}")
print(f"SBOM: CycloneDX {bom['specVersion']}, {len(listed)} components, all {len(pinned)} locked packages")
PY

step "Linux install script"
run_bundle "$BUNDLE/install.sh" --user --prefix "$tmp/home/opt/dermscreen"
desktop="$tmp/home/.local/share/applications/dermscreen.desktop"
[ -f "$desktop" ] || fail "install.sh wrote no $desktop"
grep -q "^Exec=$tmp/home/opt/dermscreen/dermscreen %F$" "$desktop" || fail "bad Exec line in $desktop"
if command -v desktop-file-validate >/dev/null 2>&1; then
  desktop-file-validate "$desktop" || fail "desktop-file-validate rejects $desktop"
fi
run_bundle "$tmp/home/.local/bin/dermscreen" --version >/dev/null || fail "installed copy does not start"

step "GUI under a real X server (Xvfb)"
if command -v Xvfb >/dev/null 2>&1 && command -v xwininfo >/dev/null 2>&1; then
  display=""
  for n in $(seq 90 130); do
    if [ ! -e "/tmp/.X11-unix/X$n" ] && [ ! -e "/tmp/.X$n-lock" ]; then display=":$n"; break; fi
  done
  [ -n "$display" ] || fail "no free X display number"
  Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
  xvfb_pid=$!
  # exec: $gui_pid is the program itself, so it can be ended by its id.
  (cd "$tmp" && exec env -i PATH=/usr/bin:/bin HOME="$tmp/home" LANG=C.UTF-8 DISPLAY="$display" \
    QT_QPA_PLATFORM=xcb DERMSCREEN_HOME="$tmp/home/dermscreen" "${isolate[@]}" \
    "$BUNDLE/dermscreen" > "$tmp/gui.log" 2>&1) &
  gui_pid=$!
  # The main window's title names the loaded model: "<model> <version> — DermScreen"
  # (desktop_app.gui.shell.main_window.window_title; a bare "DermScreen" means no model loaded).
  title=""
  for _ in $(seq 1 120); do
    title=$(DISPLAY="$display" xwininfo -root -tree 2>/dev/null | grep -o '"[^"]* — DermScreen"' | head -n 1 || true)
    [ -n "$title" ] && break
    kill -0 "$gui_pid" 2>/dev/null || break
    sleep 1
  done
  if [ -n "$title" ] && [ -x "$PY" ]; then
    DISPLAY="$display" "$PY" -c "from PIL import ImageGrab; ImageGrab.grab(xdisplay='$display').save('$BUNDLE/../smoke-gui.png')" \
      && echo "screenshot: $(cd "$BUNDLE/.." && pwd)/smoke-gui.png"
  fi
  kill "$gui_pid" 2>/dev/null || true
  wait "$gui_pid" 2>/dev/null || true   # before the X server goes
  kill "$xvfb_pid" 2>/dev/null || true
  wait "$xvfb_pid" 2>/dev/null || true
  cat "$tmp/gui.log"
  [ -n "$title" ] || fail "the GUI showed no DermScreen main window within 120 s"
  echo "main window: $title"
else
  echo "skipped: Xvfb or xwininfo not installed (installers/system-packages.sh installs xvfb)"
fi

echo
echo "bundle smoke test passed ($(( $(date +%s) - started ))s)"
