"""Check a built one-folder bundle: nothing forbidden inside, the default model and runtime there.

    python installers/verify_bundle.py installers/dist/dermscreen [--listing FILE]

Lists every file of the folder and every Python module in the executable's embedded
archive (needs PyInstaller, so run it with the build venv's Python), writes that
listing, and exits 1 naming each forbidden entry or each missing required one.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bundle_policy import forbidden_modules, forbidden_paths


def _app_default_model() -> str:
    """DEFAULT_MODEL_NAME from desktop_app/core/base/paths.py, its one home (read, not imported:
    the build venv need not hold the app's dependencies)."""
    source = Path(__file__).resolve().parents[1] / "desktop_app" / "core" / "base" / "paths.py"
    for node in ast.parse(source.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", "") == "DEFAULT_MODEL_NAME"):
            return str(ast.literal_eval(node.value))
    msg = f"DEFAULT_MODEL_NAME not found in {source}"
    raise RuntimeError(msg)


# The app's default model must be inside (other bundled models are checked with the rest).
DEFAULT_MODEL = _app_default_model()
# Modules a working bundle must embed (a failed lazy-import scan would drop them silently).
REQUIRED_MODULES = ("desktop_app.cli", "desktop_app.cli.commands.analyse", "desktop_app.core.inference.engine",
                    "desktop_app.core.model.model_file",
                    "desktop_app.reports.csv_report", "check_gpu", "onnxruntime",
                    "desktop_app.core.imaging.dicom_read", "desktop_app.reports.dicom.write",
                    "desktop_app.reports.dicom.send", "pydicom", "highdicom", "pynetdicom",
                    "desktop_app.reports.pdf.report", "desktop_app.reports.pdf.case_report",
                    "reportlab.platypus")
REQUIRED_PACKAGES = ("desktop_app.gui.",)


def embedded_modules(executable: Path) -> list[str]:
    """Names of the Python modules in the executable's PYZ archive."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(executable))
    names: list[str] = []
    for entry_name, entry in archive.toc.items():
        typecode = entry[-1]
        if typecode == "z":  # the PYZ: pure-Python modules
            names.extend(archive.open_embedded_archive(entry_name).toc)
        elif typecode in ("s", "m", "M"):  # entry scripts and bootstrap modules
            names.append(entry_name)
    return sorted(set(names))


def required_missing(root: Path) -> list[str]:
    """What a working bundle must hold and this one lacks."""
    internal = root / "_internal"
    checks = {
        f"_internal/resources/models/{DEFAULT_MODEL}": (internal / "resources" / "models"
                                                       / DEFAULT_MODEL).is_file(),
        "_internal/onnxruntime/capi (ONNX Runtime library)": any(
            (internal / "onnxruntime" / "capi").glob("*onnxruntime*")),
        "_internal/PySide6 (Qt)": (internal / "PySide6").is_dir(),
    }
    return [name for name, ok in checks.items() if not ok]


def modules_missing(modules: list[str]) -> list[str]:
    present = set(modules)
    missing = [f"module {name}" for name in REQUIRED_MODULES if name not in present]
    missing += [f"modules {prefix}*" for prefix in REQUIRED_PACKAGES
                if not any(m.startswith(prefix) for m in modules)]
    return missing


def folder_size(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.is_symlink())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="the one-folder bundle (dist/dermscreen)")
    parser.add_argument("--listing", type=Path, help="write the full listing here")
    args = parser.parse_args(argv)

    root: Path = args.bundle
    exe = root / ("dermscreen.exe" if sys.platform == "win32" else "dermscreen")
    if not exe.is_file():
        print(f"error: {exe}: no bundle executable here (build it first)", file=sys.stderr)
        return 2
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    modules = embedded_modules(exe)

    if args.listing:
        tmp = args.listing.with_name(args.listing.name + ".tmp")
        lines = ["# files", *files, "", "# python modules in the executable", *modules]
        tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.replace(tmp, args.listing)

    bad_files = forbidden_paths(root)
    bad_modules = forbidden_modules(modules)
    missing = required_missing(root) + modules_missing(modules)
    print(f"bundle: {len(files)} files, {len(modules)} Python modules, "
          f"{folder_size(root) / 2**20:.0f} MiB")
    for entry in bad_files:
        print(f"FORBIDDEN file: {entry}")
    for name in bad_modules:
        print(f"FORBIDDEN module: {name}")
    for name in missing:
        print(f"MISSING: {name}")
    if bad_files or bad_modules or missing:
        return 1
    print("bundle check passed: no TensorFlow, tf2onnx, onnx, matplotlib, training or export "
          "inside; default model, ONNX Runtime and Qt present")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
