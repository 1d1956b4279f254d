"""Worker threads on real files: thumbnails and one-shot tasks."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from desktop_app.core.errors import EmptyFileError
from desktop_app.gui.workers import THUMB_SIZE, TaskThread, ThumbnailThread, make_thumbnail
from tests.support.data import make_bad_files


def test_thumbnail_of_a_full_resolution_original_keeps_its_aspect(fullres_files):
    original = fullres_files[0]
    with Image.open(original) as img:
        width, height = img.size
    thumb = make_thumbnail(original)
    assert max(thumb.width(), thumb.height()) == THUMB_SIZE
    assert abs(thumb.width() / thumb.height() - width / height) < 0.05
    assert not thumb.isNull()


def test_thumbnail_thread_skips_bad_files_and_delivers_good_ones(qtbot, tmp_path,
                                                                 isic9_test_files):
    bad = make_bad_files(tmp_path / "bad")
    thread = ThumbnailThread()
    got: dict[object, tuple[int, int]] = {}
    thread.ready.connect(lambda key, image: got.__setitem__(key, (image.width(), image.height())))
    thread.start()
    try:
        for name, path in bad.items():
            thread.submit(("bad", name), path)
        thread.submit(("good", 0), isic9_test_files[0])
        qtbot.waitUntil(lambda: ("good", 0) in got, timeout=60_000)
    finally:
        thread.requestInterruption()
        thread.wait()
    assert got == {("good", 0): (THUMB_SIZE, THUMB_SIZE)}  # isic9 images are square


def test_task_thread_reports_success_and_failure_with_its_tag(qtbot, tmp_path: Path):
    ok = TaskThread(lambda: 41 + 1, tag="answer")
    with qtbot.waitSignal(ok.succeeded, timeout=30_000) as done:
        ok.start()
    ok.wait()
    assert done.args == ["answer", 42]

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")

    def fail() -> None:
        raise EmptyFileError(empty, "file is empty (0 bytes)")

    bad = TaskThread(fail, tag="case")
    with qtbot.waitSignal(bad.failed, timeout=30_000) as failed:
        bad.start()
    bad.wait()
    tag, message = failed.args
    assert tag == "case"
    assert str(empty) in message and "empty" in message
