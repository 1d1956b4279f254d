"""The rotating log file and the exception hook."""

from __future__ import annotations

import logging
import logging.handlers
import sys

from desktop_app.core.base.paths import log_dir
from desktop_app.gui.shell.logging_setup import (
    LOGGER_NAME,
    ExceptHook,
    install_excepthook,
    log_file_path,
    setup_logging,
)


def test_log_file_is_rotating_and_under_the_user_log_dir(isolated_user_home):
    path = setup_logging()
    assert path == log_dir() / "dermscreen.log"
    assert path.parent == isolated_user_home / "logs"
    handlers = [h for h in logging.getLogger(LOGGER_NAME).handlers
                if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(handlers) == 1
    assert handlers[0].baseFilename == str(path)
    assert setup_logging() == path  # idempotent: still one handler
    assert len([h for h in logging.getLogger(LOGGER_NAME).handlers
                if isinstance(h, logging.handlers.RotatingFileHandler)]) == 1


def test_hook_logs_traceback_and_notifies():
    setup_logging()
    messages: list[str] = []
    hook = ExceptHook(messages.append)
    try:
        {}["missing"]
    except KeyError as exc:
        hook(type(exc), exc, exc.__traceback__)
    text = log_file_path().read_text(encoding="utf-8")
    assert "KeyError: 'missing'" in text
    assert len(messages) == 1
    assert "KeyError" in messages[0]
    assert str(log_file_path()) in messages[0]


def test_hook_survives_a_failing_notifier():
    setup_logging()

    def broken(_text: str) -> None:
        raise RuntimeError("notifier broke")

    hook = ExceptHook(broken)
    try:
        raise ValueError("first")
    except ValueError as exc:
        hook(type(exc), exc, exc.__traceback__)
    text = log_file_path().read_text(encoding="utf-8")
    assert "ValueError: first" in text
    assert "could not show the error message" in text


def test_install_and_uninstall_restore_the_previous_hook():
    before = sys.excepthook
    hook = install_excepthook(None)
    try:
        assert sys.excepthook is hook
    finally:
        hook.uninstall()
    assert sys.excepthook is before


def test_log_file_is_private_and_names_files_not_folders(isolated_user_home, tmp_path):
    import stat

    folder = tmp_path / "Patients" / "Smith John"
    path = setup_logging()
    logging.getLogger("dermscreen.gui").info("batch started: %s", folder / "ISIC_1.jpg")
    try:
        raise OSError(f"cannot read {folder / 'ISIC_2.jpg'}")
    except OSError:
        logging.getLogger("dermscreen.gui").exception("failed")
    text = path.read_text(encoding="utf-8")
    assert "batch started: ISIC_1.jpg" in text
    assert "cannot read ISIC_2.jpg" in text
    assert "Smith John" not in text and str(tmp_path) not in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_debug_logging_keeps_full_paths(isolated_user_home, tmp_path, monkeypatch):
    monkeypatch.setenv("DERMSCREEN_DEBUG", "1")
    path = setup_logging()
    logging.getLogger("dermscreen.gui").debug("opened %s", tmp_path / "Smith John" / "a.jpg")
    assert str(tmp_path / "Smith John" / "a.jpg") in path.read_text(encoding="utf-8")
    monkeypatch.delenv("DERMSCREEN_DEBUG")
    setup_logging()  # back to the private format
    logging.getLogger("dermscreen.gui").info("opened %s", tmp_path / "Jones" / "b.jpg")
    assert "Jones" not in path.read_text(encoding="utf-8").splitlines()[-1]
