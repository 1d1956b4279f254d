"""GUI test helpers: a real window on the real small model, real images, no file dialogs."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from pytestqt.exceptions import TimeoutError as QtBotTimeout

from desktop_app.gui.shell.main_window import MainWindow

# Every wait fails fast and says what it waited for: the slowest thing waited on (a
# 12-image batch on 2 busy cores, a model load) takes a few seconds.
WAIT_MS = 60_000


class ScriptedPaths:
    """A PathProvider that answers with preset paths instead of opening dialogs."""

    def __init__(self) -> None:
        self.folder: str | None = None
        self.files: list[str] = []
        self.model: str | None = None
        self.save: dict[str, str] = {}  # suffix -> path
        self.asked: list[str] = []
        self.folder_titles: list[str] = []

    def open_folder(self, parent: object, start: str, title: str = "") -> str | None:
        self.asked.append("folder")
        self.folder_titles.append(title)
        return self.folder

    def open_files(self, parent: object, start: str) -> list[str]:
        self.asked.append("files")
        return list(self.files)

    def open_model(self, parent: object, start: str) -> str | None:
        self.asked.append("model")
        return self.model

    def save_file(self, parent: object, title: str, suggested: str, filters: str) -> str | None:
        self.asked.append(f"save:{Path(suggested).name}")
        return self.save.get(Path(suggested).suffix.lower())


def pick_test_images(files: list[Path], count: int) -> list[Path]:
    """``count`` isic9 Test images spread over the classes (round robin), stable order."""
    by_class: dict[str, list[Path]] = {}
    for f in files:
        by_class.setdefault(f.parent.name, []).append(f)
    picked: list[Path] = []
    while len(picked) < count and any(by_class.values()):
        for cls in sorted(by_class):
            if by_class[cls] and len(picked) < count:
                picked.append(by_class[cls].pop(0))
    return picked


@pytest.fixture
def image_folder(tmp_path: Path, isic9_test_files: list[Path]) -> Path:
    """A temp folder holding 12 real isic9 Test images from several classes."""
    folder = tmp_path / "cases"
    folder.mkdir()
    for src in pick_test_images(isic9_test_files, 12):
        shutil.copy2(src, folder / f"{src.parent.name.replace(' ', '_')}-{src.name}")
    return folder


@pytest.fixture
def scripted_paths() -> ScriptedPaths:
    return ScriptedPaths()


@pytest.fixture
def make_window(
    qtbot: object, small_model_path: Path, scripted_paths: ScriptedPaths
) -> Callable[..., MainWindow]:
    """Build a shown MainWindow; by default wait until its model has loaded (or failed)."""

    def make(model_path: Path | str | None = None, *, wait: bool = True) -> MainWindow:
        window = MainWindow(model_path if model_path is not None else small_model_path,
                            path_provider=scripted_paths)
        qtbot.addWidget(window)  # closed (workers stopped) and deleted at teardown
        window.show()
        if wait:
            wait_for(qtbot, lambda: window.engine is not None or bool(window.model_error),
                     "the model to load or fail")
        return window

    return make


def wait_for(qtbot: Any, condition: Callable[[], object], what: str,
             timeout_ms: int = WAIT_MS) -> None:
    """Wait until ``condition()`` is true; fail naming ``what`` after ``timeout_ms``."""
    try:
        qtbot.waitUntil(lambda: bool(condition()), timeout=timeout_ms)
    except QtBotTimeout as exc:
        pytest.fail(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}: {exc}",
                    pytrace=False)


@contextmanager
def wait_signal(qtbot: Any, signal: Any, what: str, timeout_ms: int = WAIT_MS) -> Iterator[Any]:
    """``qtbot.waitSignal`` that fails naming ``what`` after ``timeout_ms``."""
    try:
        with qtbot.waitSignal(signal, timeout=timeout_ms) as blocker:
            yield blocker
    except QtBotTimeout as exc:
        pytest.fail(f"timed out after {timeout_ms / 1000:.0f} s waiting for {what}: {exc}",
                    pytrace=False)


def wait_batch(qtbot: Any, window: MainWindow) -> None:
    """Wait until no batch runs and every result has reached the table."""
    wait_for(qtbot, lambda: not window.busy, "the batch to finish")
