"""Real tmpfs mounts for hostile-store tests (root only): a full disk and a read-only disk."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, timeout=30)


@contextlib.contextmanager
def tmpfs(where: Path, *, size: str = "64k") -> Iterator[Path]:
    """A real tmpfs of ``size`` mounted at ``where`` (created), unmounted afterwards.
    Skips the test where mounting is not allowed (not root, no CAP_SYS_ADMIN)."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    where.mkdir(parents=True, exist_ok=True)
    try:
        _mount("-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where))
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"cannot mount a tmpfs here: {exc}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True, timeout=30)


def remount_read_only(where: Path) -> None:
    _mount("-o", "remount,ro", str(where))


def fill(where: Path) -> None:
    """Fill the file system at ``where`` to the last byte (ENOSPC for the next write)."""
    fd = os.open(where / ".filler", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while os.write(fd, b"\0" * size) > 0:
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
