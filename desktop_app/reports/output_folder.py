"""A run's output folder: checked before the run, owned by one run at a time, no stale reports.

- :func:`check_output_folder` fails at once (before hours of analysis) when the
  folder cannot be created or written, or when a report's name is taken by
  something that is not a file (``results.csv/`` as a folder).
- :class:`OutputFolderLock` makes a run the folder's only writer: a second run
  into the same folder is refused while the first holds it (an OS file lock on
  ``.dermscreen.lock``, released by the OS if the process dies).
- :func:`supersede_stale_reports` moves reports an earlier run left (its
  results.csv, case PDFs, a summary, a partial CSV) into ``superseded/<UTC time>/``
  before a complete run writes its own, so the folder never mixes two batches
  (results.csv is copied there and then replaced atomically by the new one: a
  run that cannot write its CSV leaves the earlier one in place). Moved, not
  deleted: they may be clinical documents someone still needs.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

from desktop_app.core.base.files import FileWriteError, ensure_output_dir, write_error_cause
from desktop_app.reports.names import (
    RESULTS_FILE_NAME,
    is_case_pdf_name,
    report_file_names,
)

LOCK_FILE_NAME = ".dermscreen.lock"
SUPERSEDED_DIR_NAME = "superseded"
# Never follow a link at the lock's name, never make a terminal ours, never block
# on a FIFO planted there, and do not leak the descriptor into child processes.
_LOCK_FLAGS = (os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NOCTTY", 0)
               | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))


class OutputFolderInUseError(FileWriteError):
    """Another run holds the output folder."""

    def __init__(self, folder: str | Path, holder: str) -> None:
        super().__init__(folder, f"in use by another DermScreen run ({holder}); "
                                 "wait for it to finish or choose another output folder")


def check_output_folder(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove the reports can be written there, or raise.

    Raises :class:`FileWriteError` naming the folder and the cause.
    """
    folder = ensure_output_dir(folder)
    for name in report_file_names():
        target = folder / name
        if target.exists() and not target.is_file():
            raise FileWriteError(folder, f"{name} exists and is not a regular file "
                                         "(a folder?); move it away or choose another folder")
    return folder


def _try_lock(fd: int) -> bool:
    if os.name == "nt":  # pragma: no cover - Windows
        import msvcrt

        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class OutputFolderLock:
    """Exclusive ownership of an output folder for one run (a context manager).

    The lock is an OS lock on an open file, so a run that is killed releases it;
    the file itself is removed on a clean release.
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        self.path = self.folder / LOCK_FILE_NAME
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the folder or raise :class:`OutputFolderInUseError` (never waits)."""
        for _ in range(5):
            fd = self._open()
            if not _try_lock(fd):
                holder = self._holder(fd)
                os.close(fd)
                raise OutputFolderInUseError(self.folder, holder)
            # The holder before us may have removed the file between our open and
            # our lock: then we locked an orphan; take the file that is there now.
            try:
                same = os.path.samestat(os.fstat(fd), os.lstat(self.path))
            except FileNotFoundError:
                same = False
            if same:
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, 0)
                    os.write(fd, f"pid {os.getpid()}\n".encode())
                self._fd = fd
                return
            os.close(fd)
        raise OutputFolderInUseError(self.folder, "lock file keeps changing")

    def _open(self) -> int:
        """Open (or create) the lock file without following a link, and check it is ours.

        A ``.dermscreen.lock`` symlink planted in the folder would otherwise make
        the run write ``pid N`` into whatever it points at (any file, for root).
        """
        try:
            fd = os.open(self.path, _LOCK_FLAGS, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP or self.path.is_symlink():
                raise FileWriteError(self.folder, f"{LOCK_FILE_NAME} is a symbolic link; "
                                     "refused (never followed): remove it") from None
            raise FileWriteError(self.folder, write_error_cause(exc)) from None
        try:
            st = os.fstat(fd)
            problem = ""
            if not stat.S_ISREG(st.st_mode):
                problem = f"{LOCK_FILE_NAME} exists and is not a regular file"
            elif hasattr(os, "geteuid") and st.st_uid != os.geteuid():
                problem = (f"{LOCK_FILE_NAME} belongs to another user (uid {st.st_uid}); "
                           "refused: remove it or choose another folder")
            if problem:
                raise FileWriteError(self.folder, problem)
        except BaseException:
            os.close(fd)
            raise
        return fd

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
        except (OSError, AttributeError):
            text = ""
        return text if text.startswith("pid ") and text[4:].isdigit() else "pid unknown"

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(OSError):
            self.path.unlink()  # while still locked, so no one locks a file about to vanish
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> OutputFolderLock:
        self.acquire()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def stale_reports(folder: str | Path) -> list[Path]:
    """Reports in ``folder`` that belong to an earlier run: results.csv, case PDFs, summary,
    partial CSV."""
    folder = Path(folder)
    try:
        entries = list(folder.iterdir())
    except OSError:
        return []
    names = set(report_file_names())
    return sorted(p for p in entries
                  if (p.name in names or is_case_pdf_name(p.name)) and p.is_file())


def supersede_stale_reports(folder: str | Path) -> Path | None:
    """Move :func:`stale_reports` into ``superseded/<UTC time>/``; returns that folder or None."""
    folder = Path(folder)
    stale = stale_reports(folder)
    if not stale:
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    target = folder / SUPERSEDED_DIR_NAME / stamp
    n = 1
    while target.exists():
        n += 1
        target = folder / SUPERSEDED_DIR_NAME / f"{stamp}-{n}"
    try:
        target.mkdir(parents=True)
        for path in stale:
            if path.name == RESULTS_FILE_NAME:
                # Kept in place too, until the new one replaces it atomically: a run
                # whose own CSV cannot be written leaves the earlier results where they were.
                _link_or_copy(path, target / path.name)
            else:
                os.replace(path, target / path.name)
    except OSError as exc:
        raise FileWriteError(folder, f"cannot move earlier reports aside: "
                                     f"{write_error_cause(exc)}") from None
    return target


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target, follow_symlinks=False)
    except OSError:  # a file system without hard links (FAT, some network shares)
        shutil.copy2(source, target, follow_symlinks=False)


def keep_earlier_results(superseded: Path) -> None:
    """Undo the copy of an earlier results.csv in ``superseded`` (the new one could not be
    written, so the earlier one is still in place); drops folders left empty."""
    with contextlib.suppress(OSError):
        (superseded / RESULTS_FILE_NAME).unlink()
    for empty in (superseded, superseded.parent):
        with contextlib.suppress(OSError):
            empty.rmdir()  # only when empty
