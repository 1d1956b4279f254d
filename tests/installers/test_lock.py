"""requirements-app.lock: complete, pinned, hashed, and what the tests run against."""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOCK = REPO / "installers" / "requirements-app.lock"
CUDA_LOCK = REPO / "installers" / "requirements-cuda.lock"

sys.path.insert(0, str(REPO / "installers"))
import lock_requirements as lr  # noqa: E402

REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)(?:\s*;\s*(.+?))?$")


def parse_lock(path: Path) -> dict[str, tuple[str, str, list[str]]]:
    """canonical name -> (version, marker, sha256 digests)."""
    entries: dict[str, tuple[str, str, list[str]]] = {}
    for line in path.read_text(encoding="utf-8").replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        spec, *hashes = line.split(" --hash=")
        match = REQUIREMENT.match(spec.strip())
        assert match, f"{path.name}: not a pinned requirement: {line}"
        name = lr.canonical(match.group(1))
        assert name not in entries, f"{path.name}: {name} listed twice"
        entries[name] = (match.group(2), match.group(3) or "", [h.strip() for h in hashes])
    return entries


def project() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize("lock", [LOCK, CUDA_LOCK], ids=["app", "cuda"])
def test_every_package_is_pinned_with_sha256_hashes(lock: Path) -> None:
    entries = parse_lock(lock)
    assert entries
    for name, (_version, _marker, hashes) in entries.items():
        assert hashes, f"{name} has no hash"
        assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", h) for h in hashes), name


def test_lock_holds_every_pyproject_pin() -> None:
    entries = parse_lock(LOCK)
    for requirement in project()["dependencies"]:
        name, version = requirement.split("==")
        assert entries[lr.canonical(name)][0] == version, requirement
    # Regenerate the lock when pyproject's pins change: its header records them.
    header = LOCK.read_text(encoding="utf-8")
    assert "Top-level pins: " + ", ".join(project()["dependencies"]) in header


def test_lock_carries_no_training_stack() -> None:
    names = set(parse_lock(LOCK))
    assert names.isdisjoint({"tensorflow", "keras", "tf2onnx", "onnx", "matplotlib", "torch"})


def test_the_tested_environment_matches_the_lock() -> None:
    """The venv the tests run in has the versions that ship, for every exact pin.

    Exact pins: pyproject's, and the Qt parts PySide6 itself pins with ==. Looser
    transitive packages (packaging, flatbuffers, ...) follow the dev venv's resolution.
    """
    entries = parse_lock(LOCK)
    pinned = [lr.canonical(r.split("==")[0]) for r in project()["dependencies"]]
    pinned += ["pyside6-addons", "pyside6-essentials", "shiboken6"]
    for name in pinned:
        assert metadata.version(name) == entries[name][0], name


def test_cuda_lock_matches_onnxruntime_build() -> None:
    """The CUDA wheels are the major versions this onnxruntime-gpu was built against."""
    from onnxruntime.capi.build_and_package_info import cuda_version

    entries = parse_lock(CUDA_LOCK)
    major = cuda_version.split(".")[0]
    assert entries["nvidia-cuda-runtime"][0].split(".")[0] == major
    assert entries["nvidia-cublas"][0].split(".")[0] == major
    assert f"nvidia-cudnn-cu{major}" in entries
    assert entries[f"nvidia-cudnn-cu{major}"][0].startswith("9.")


def report(*items: tuple[str, str, str]) -> dict:
    """A pip --report of (name, version, sha256) items, as pip writes it."""
    return {"install": [
        {"metadata": {"name": n, "version": v},
         "download_info": {"archive_info": {"hashes": {"sha256": h}}}}
        for n, v, h in items
    ]}


def test_merge_writes_markers_for_one_platform_packages() -> None:
    locked = lr.merge_reports({
        "linux": report(("numpy", "2.4.6", "a" * 64)),
        "win": report(("numpy", "2.4.6", "b" * 64), ("pyreadline3", "3.5.4", "c" * 64)),
    })
    text = lr.format_lock(locked, ["header"])
    assert text.startswith("# header\n")
    assert f"--hash=sha256:{'a' * 64}" in text and f"--hash=sha256:{'b' * 64}" in text
    assert 'pyreadline3==3.5.4 ; sys_platform == "win32"' in text
    linux = lr.target_requirements(text, "linux")
    win = lr.target_requirements(text, "win")
    assert [r.split()[0] for r in linux] == ["numpy==2.4.6"]
    assert [r.split()[0] for r in win] == ["numpy==2.4.6", "pyreadline3==3.5.4"]
    # What pip download gets has no marker left (pip would judge it by this machine).
    assert all(";" not in r for r in win)


def test_merge_refuses_different_versions_per_platform() -> None:
    with pytest.raises(ValueError, match=re.escape("numpy: 2.4.6 on ['linux'] but 2.3.0 on win")):
        lr.merge_reports({
            "linux": report(("numpy", "2.4.6", "a" * 64)),
            "win": report(("numpy", "2.3.0", "b" * 64)),
        })


def test_merge_refuses_a_wheel_without_hash() -> None:
    broken = {"install": [{"metadata": {"name": "numpy", "version": "2.4.6"},
                           "download_info": {"url": "file:///x.whl"}}]}
    with pytest.raises(ValueError, match=re.escape("no sha256 for numpy==2.4.6")):
        lr.merge_reports({"linux": broken})


def test_committed_lock_round_trips_through_target_lists() -> None:
    entries = parse_lock(LOCK)
    text = LOCK.read_text(encoding="utf-8")
    for target in ("linux", "win"):
        lines = lr.target_requirements(text, target)
        assert {lr.canonical(line.split("==")[0]) for line in lines} == set(entries)
        assert all("--hash=sha256:" in line for line in lines)
