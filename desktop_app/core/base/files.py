"""File utilities shared by the app, training and export: atomic writes, output folders, the clock.

An atomic write goes to a temp file in the target's folder, then ``os.replace``:
a file that already exists is therefore either the old one or the complete new
one, never half-written. Every failure (read-only or full disk, a folder that
is a file) becomes a :class:`FileWriteError` naming the folder and the cause in
words ("disk full", "permission denied"...).

The UTC clock (:func:`utc_now_iso`) lives here too: it stamps what these files
record (CSV rows, run folders, model metadata) in one format.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from desktop_app.core.base.errors import DermScreenError

# Causes a user can act on, named in words; other errors keep the system's text.
_CAUSES: dict[int, str] = {
    errno.ENOSPC: "disk full (no space left on device)",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large for this disk or process limit",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (permissions or an immutable folder)",
    errno.EROFS: "read-only file system",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EISDIR: "a folder is in the way (a file was expected)",
}


def utc_now_iso() -> str:
    """Current UTC time, ISO-8601 to the second with a ``+00:00`` offset."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class FileWriteError(DermScreenError):
    """A file could not be written; the message names the folder and the reason."""

    def __init__(self, folder: str | Path, reason: str) -> None:
        self.folder = str(folder)
        self.reason = reason
        super().__init__(f"cannot write to folder {self.folder}: {reason}")


def write_error_cause(exc: OSError) -> str:
    """The cause of a failed write in words: 'disk full (...)', 'permission denied'..."""
    if exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    return exc.strerror or str(exc) or type(exc).__name__


def ensure_output_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it is writable (a probe file), or raise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise FileWriteError(folder, "a file with that name exists (not a folder)") from None
    except OSError as exc:
        raise FileWriteError(folder, write_error_cause(exc)) from None
    if not folder.is_dir():
        raise FileWriteError(folder, "not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".dermscreen-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise FileWriteError(folder, write_error_cause(exc)) from None
    return folder


@contextlib.contextmanager
def atomic_path(target: str | Path, *, private: bool = False) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    On any exception the temp file is removed and ``target`` is left as it was;
    an OSError is re-raised as :class:`FileWriteError`. ``private`` keeps the
    file 0600 (settings, reviews: they can name patients).
    """
    target = Path(target)
    folder = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise FileWriteError(folder, write_error_cause(exc)) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        if private:
            os.chmod(tmp, 0o600)
        else:
            # Reports are read by other users (and Excel): the usual 0644, not mkstemp's 0600.
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise FileWriteError(folder, f"{target.name}: {write_error_cause(exc)}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def write_bytes_atomic(target: str | Path, data: bytes, *, private: bool = False) -> Path:
    """Write ``data`` to ``target`` atomically (fsync before the rename)."""
    target = Path(target)
    with atomic_path(target, private=private) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return target


def write_text_atomic(target: str | Path, text: str, encoding: str = "utf-8", *,
                      private: bool = False) -> Path:
    """Write ``text`` to ``target`` atomically."""
    return write_bytes_atomic(target, text.encode(encoding), private=private)
