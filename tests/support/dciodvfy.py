"""``dciodvfy`` (dicom3tools) as a test check: an object passes when it reports no errors."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest


def dciodvfy_binary() -> str:
    found = shutil.which("dciodvfy")
    if found is None:
        pytest.skip("dciodvfy is not installed (installers/system-packages.sh installs dicom3tools)")
    return found


def iod_errors(path: Path) -> tuple[str, list[str]]:
    """(the IOD dciodvfy recognised, its error lines) for the object at ``path``."""
    run = subprocess.run([dciodvfy_binary(), "-new", str(path)], capture_output=True, text=True,
                         timeout=120, check=False)
    lines = (run.stdout + run.stderr).splitlines()
    errors = [line for line in lines if line.startswith("Error")]
    iod = next((line.strip() for line in lines if line and not line.startswith(
        ("Error", "Warning"))), "")
    return iod, errors
