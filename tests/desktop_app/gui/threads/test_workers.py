"""Worker threads on real files: thumbnails and one-shot tasks."""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image

from desktop_app.core.base.errors import EmptyFileError
from desktop_app.gui.threads.workers import (
    THUMB_SIZE,
    TaskThread,
    ThreadRegistry,
    ThumbnailThread,
    abandoned_threads,
    make_thumbnail,
)
from tests.desktop_app.gui.conftest import wait_for, wait_signal
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
        for number, path in enumerate(bad.values()):
            thread.submit((1, number), path)
        thread.submit((2, 0), isic9_test_files[0])
        wait_for(qtbot, lambda: (2, 0) in got, "the good file's thumbnail")
    finally:
        thread.requestInterruption()
        assert thread.wait(60_000)
    assert got == {(2, 0): (THUMB_SIZE, THUMB_SIZE)}  # isic9 images are square


def test_task_thread_reports_success_and_failure_to_its_typed_callbacks(qtbot, tmp_path: Path):
    values: list[int] = []
    ok: TaskThread[int] = TaskThread(lambda: 41 + 1, "answer", on_done=values.append)
    with wait_signal(qtbot, ok.succeeded, "the task's value") as done:
        ok.start()
    assert ok.wait(60_000)
    assert done.args == [42]
    assert values == [42]  # delivered on the GUI thread, by the thread object's own slot

    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")

    def fail() -> None:
        raise EmptyFileError(empty, "file is empty (0 bytes)")

    errors: list[str] = []
    bad: TaskThread[None] = TaskThread(fail, "case", on_error=errors.append)
    with wait_signal(qtbot, bad.failed, "the task's failure") as failed:
        bad.start()
    assert bad.wait(60_000)
    (message,) = failed.args
    assert str(empty) in message and "empty" in message
    assert errors == [message]


def test_registry_gives_up_on_a_thread_stuck_in_a_fifo_read(qtbot, tmp_path: Path):
    """A worker blocked in open() on a FIFO cannot hold the window: stop_all returns after its
    timeout and names it; once the FIFO is fed the thread ends and is forgotten."""
    fifo = tmp_path / "stuck.jpg"
    os.mkfifo(fifo)
    registry = ThreadRegistry()
    task: TaskThread[bytes] = TaskThread(fifo.read_bytes, "fifo-reader")
    registry.start(task)
    wait_for(qtbot, task.isRunning, "the FIFO reader to start")
    assert registry.stop_all(0.2) == ["fifo-reader"]
    assert task in abandoned_threads()
    # Unblock it: a writer opens and closes the FIFO, the reader reads EOF and ends.
    with open(fifo, "wb"):
        pass
    assert task.wait(60_000)
    assert task not in abandoned_threads()
