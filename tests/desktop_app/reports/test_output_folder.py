"""The output folder: checked before a run, one run at a time, stale reports moved aside."""

from __future__ import annotations

from pathlib import Path

import pytest

from desktop_app.core.base.files import FileWriteError
from desktop_app.reports.output_folder import (
    LOCK_FILE_NAME,
    OutputFolderInUseError,
    OutputFolderLock,
    check_output_folder,
    stale_reports,
    supersede_stale_reports,
)


def test_check_refuses_a_report_name_taken_by_a_folder(tmp_path: Path) -> None:
    assert check_output_folder(tmp_path / "new" / "out").is_dir()
    (tmp_path / "summary.pdf").mkdir()
    with pytest.raises(FileWriteError, match=r"summary\.pdf exists and is not a regular file"):
        check_output_folder(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    with pytest.raises(FileWriteError, match="not a folder"):
        check_output_folder(blocker)


def test_lock_is_exclusive_and_released(tmp_path: Path) -> None:
    first = OutputFolderLock(tmp_path)
    with first:
        assert (tmp_path / LOCK_FILE_NAME).is_file()
        with pytest.raises(OutputFolderInUseError, match=r"in use by another DermScreen run \(pid"):
            OutputFolderLock(tmp_path).acquire()
    assert not (tmp_path / LOCK_FILE_NAME).exists()
    with OutputFolderLock(tmp_path):  # free again
        pass


def test_supersede_moves_only_reports(tmp_path: Path) -> None:
    names = ["case-00003-ISIC_1.pdf", "summary.pdf", "results.partial.csv", "results.csv"]
    for name in [*names, "notes.pdf", "case-study.pdf"]:
        (tmp_path / name).write_text(name, encoding="utf-8")
    assert sorted(p.name for p in stale_reports(tmp_path)) == sorted(names)
    moved = supersede_stale_reports(tmp_path)
    assert moved is not None and moved.parent == tmp_path / "superseded"
    assert sorted(p.name for p in moved.iterdir()) == sorted(names)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "case-study.pdf", "notes.pdf", "results.csv", "superseded"]
    # results.csv stays until a new one replaces it; the copy is the same file.
    assert (moved / "results.csv").read_text(encoding="utf-8") == "results.csv"
    (tmp_path / "results.csv").unlink()  # what the new results.csv's atomic rename does
    assert supersede_stale_reports(tmp_path) is None  # nothing left to move
    (tmp_path / "summary.pdf").write_text("again", encoding="utf-8")
    second = supersede_stale_reports(tmp_path)
    assert second is not None and second != moved  # same second: a new folder, nothing overwritten
