"""Write a fully pinned, hash-checked requirements file for the app's runtime dependencies.

Runs on a connected machine. The top-level pins come from pyproject.toml (the one place
they are kept); pip resolves them once per target platform with ``--dry-run --report``,
and the reports are merged into one lock: every package pinned, with the sha256 of its
wheel for each platform, and an environment marker where a package is needed on one
platform only. pip-compile is not needed.

    python installers/lock_requirements.py                 # app deps -> requirements-app.lock
    python installers/lock_requirements.py --extra cuda    # onnxruntime CUDA/cuDNN wheels
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INSTALLERS = REPO / "installers"
PYTHON_VERSION = "3.11"

# pip matches manylinux tags exactly, so every glibc level up to the target's is listed.
# 2_34 is the floor PySide6 6.11 wheels need (glibc 2.34: Ubuntu 22.04, RHEL 9, Debian 12).
LINUX_MAX_GLIBC_MINOR = 34
LINUX_PLATFORMS = [
    *(f"manylinux_2_{minor}_x86_64" for minor in range(LINUX_MAX_GLIBC_MINOR, 4, -1)),
    "manylinux2014_x86_64",
    "manylinux2010_x86_64",
    "manylinux1_x86_64",
    "linux_x86_64",
]
WINDOWS_PLATFORMS = ["win_amd64"]

# target name -> (pip --platform values, environment marker for packages only it needs)
TARGETS: dict[str, tuple[list[str], str]] = {
    "linux": (LINUX_PLATFORMS, 'sys_platform == "linux"'),
    "win": (WINDOWS_PLATFORMS, 'sys_platform == "win32"'),
}


@dataclass
class LockedPackage:
    """One pinned distribution and the wheel hashes accepted for it."""

    name: str
    version: str
    hashes: set[str] = field(default_factory=set)
    targets: set[str] = field(default_factory=set)


def canonical(name: str) -> str:
    """PEP 503 name normalisation, so 'PySide6_Addons' and 'pyside6-addons' match."""
    return "-".join(part for part in name.lower().replace("_", "-").replace(".", "-").split("-"))


def project_requirements(pyproject: Path, extra: str | None = None) -> list[str]:
    """The pinned top-level requirements: [project].dependencies, or one extra."""
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    project = data["project"]
    if extra is None:
        return list(project["dependencies"])
    extras = project.get("optional-dependencies", {})
    if extra not in extras:
        msg = f"{pyproject}: no optional dependency group named {extra!r}"
        raise ValueError(msg)
    return list(extras[extra])


def pip_platform_args(platforms: list[str]) -> list[str]:
    args = ["--only-binary=:all:", "--python-version", PYTHON_VERSION, "--implementation", "cp"]
    for platform in platforms:
        args += ["--platform", platform]
    return args


def resolve_report(requirements: list[str], platforms: list[str]) -> dict:
    """Ask pip which wheels it would install for ``platforms`` (downloads metadata only)."""
    with tempfile.TemporaryDirectory() as tmp:
        req_file = Path(tmp) / "requirements.in"
        req_file.write_text("\n".join(requirements) + "\n", encoding="utf-8")
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed",
            "--quiet", "--report", str(report), *pip_platform_args(platforms),
            "-r", str(req_file),
        ]
        subprocess.run(cmd, check=True)
        return json.loads(report.read_text(encoding="utf-8"))


def merge_reports(reports: dict[str, dict]) -> dict[str, LockedPackage]:
    """Merge per-target pip reports into one pin per package (versions must agree)."""
    locked: dict[str, LockedPackage] = {}
    for target, report in reports.items():
        for item in report["install"]:
            name = item["metadata"]["name"]
            version = item["metadata"]["version"]
            hashes = item["download_info"].get("archive_info", {}).get("hashes", {})
            if "sha256" not in hashes:
                msg = f"pip report for {target}: no sha256 for {name}=={version}"
                raise ValueError(msg)
            key = canonical(name)
            entry = locked.setdefault(key, LockedPackage(name=name, version=version))
            if entry.version != version:
                msg = (f"{name}: {entry.version} on {sorted(entry.targets)} but {version} on "
                       f"{target}; pin it in pyproject.toml")
                raise ValueError(msg)
            entry.hashes.add(hashes["sha256"])
            entry.targets.add(target)
    return locked


def format_lock(locked: dict[str, LockedPackage], header: list[str]) -> str:
    """Requirements text pip accepts with --require-hashes."""
    all_targets = set().union(*(p.targets for p in locked.values())) if locked else set()
    lines = [f"# {line}" if line else "#" for line in header]
    for key in sorted(locked):
        package = locked[key]
        marker = ""
        if package.targets != all_targets:
            marker = " ; " + " or ".join(TARGETS[t][1] for t in sorted(package.targets))
        lines.append(f"{package.name}=={package.version}{marker} \\")
        hash_lines = [f"    --hash=sha256:{digest}" for digest in sorted(package.hashes)]
        lines.append(" \\\n".join(hash_lines))
    return "\n".join(lines) + "\n"


def target_requirements(lock_text: str, target: str) -> list[str]:
    """The lock's lines for one target with markers resolved, for `pip download`.

    pip evaluates markers against the machine it runs on, not against --platform,
    so downloading Windows wheels on Linux needs the markers decided here.
    """
    out: list[str] = []
    # Join backslash continuations so each requirement sits on one line.
    for raw in lock_text.replace("\\\n", " ").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        spec, _, hashes = line.partition(" --hash")
        hashes = "--hash" + hashes if hashes else ""
        requirement, _, marker = spec.partition(";")
        marker = marker.strip()
        if marker and TARGETS[target][1] not in marker:
            continue
        out.append(f"{requirement.strip()} {hashes}".strip())
    return out


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyproject", type=Path, default=REPO / "pyproject.toml")
    parser.add_argument("--extra", help="lock an optional dependency group instead")
    parser.add_argument("--requirement", action="append", default=[],
                        help="lock these requirements instead of pyproject's (repeatable)")
    parser.add_argument("--targets", default="linux,win", help="comma list of: linux, win")
    parser.add_argument("--out", type=Path, help="default: installers/requirements-app.lock")
    parser.add_argument("--only", metavar="REGEX",
                        help="keep only packages whose name matches (e.g. '^nvidia-')")
    parser.add_argument("--print-target", metavar="TARGET",
                        help="print the lock's requirement lines for TARGET and exit")
    parser.add_argument("--print-platforms", metavar="TARGET",
                        help="print pip's --platform arguments for TARGET and exit")
    args = parser.parse_args(argv)

    out = args.out or INSTALLERS / "requirements-app.lock"
    if args.print_platforms:
        if args.print_platforms not in TARGETS:
            parser.error(f"unknown target {args.print_platforms!r}; use one of {sorted(TARGETS)}")
        print(" ".join(f"--platform {p}" for p in TARGETS[args.print_platforms][0]))
        return 0
    if args.print_target:
        if args.print_target not in TARGETS:
            parser.error(f"unknown target {args.print_target!r}; use one of {sorted(TARGETS)}")
        print("\n".join(target_requirements(out.read_text(encoding="utf-8"), args.print_target)))
        return 0

    targets = [t.strip() for t in args.targets.split(",") if t.strip()]
    unknown = [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown targets {unknown}; use {sorted(TARGETS)}")
    requirements = args.requirement or project_requirements(args.pyproject, args.extra)
    reports = {t: resolve_report(requirements, TARGETS[t][0]) for t in targets}
    locked = merge_reports(reports)
    if args.only:
        pattern = re.compile(args.only)
        locked = {k: v for k, v in locked.items() if pattern.search(k)}
    header = [
        "Fully pinned, hash-checked requirements. Generated; do not edit by hand:",
        f"  python installers/lock_requirements.py {' '.join(argv or sys.argv[1:])}".rstrip(),
        f"Python {PYTHON_VERSION} (CPython), targets: {', '.join(targets)}.",
        "Top-level pins: " + ", ".join(requirements),
        "",
    ]
    write_atomic(out, format_lock(locked, header))
    print(f"wrote {out} ({len(locked)} packages, targets {', '.join(targets)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
