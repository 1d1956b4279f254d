"""Atomic report writes: the old file survives any failure; unwritable folders are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.base.files import (
    FileWriteError,
    atomic_path,
    ensure_output_dir,
    write_text_atomic,
)


def test_replace_on_success(tmp_path: Path) -> None:
    target = tmp_path / "report.txt"
    target.write_text("old", encoding="utf-8")
    write_text_atomic(target, "new content")
    assert target.read_text(encoding="utf-8") == "new content"
    assert [p.name for p in tmp_path.iterdir()] == ["report.txt"]
    assert target.stat().st_mode & 0o044 == 0o044  # readable by others, not mkstemp's 0600


def test_failure_mid_write_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "results.csv"
    target.write_text("index,path\n0,a.jpg\n", encoding="utf-8")
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text("index,path\n0,half", encoding="utf-8")
        msg = "boom"
        raise RuntimeError(msg)
    assert target.read_text(encoding="utf-8") == "index,path\n0,a.jpg\n"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]  # no temp file left


def test_folder_under_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    # Tests run as root, so permissions do not stop writes; a path below a
    # regular file fails for everyone.
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(FileWriteError) as info:
        ensure_output_dir(blocker / "out")
    assert str(blocker / "out") in str(info.value) and "cannot write" in str(info.value)
    with pytest.raises(FileWriteError, match="not a folder"):
        ensure_output_dir(blocker)
    with pytest.raises(FileWriteError) as info2:
        write_text_atomic(blocker / "results.csv", "x")
    assert str(blocker) in str(info2.value)


def test_ensure_output_dir_creates_nested(tmp_path: Path) -> None:
    out = ensure_output_dir(tmp_path / "a" / "b")
    assert out.is_dir() and list(out.iterdir()) == []
