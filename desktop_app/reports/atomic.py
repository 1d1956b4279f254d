"""Atomic report writes: a temp file in the target's folder, then ``os.replace``.

A report that already exists is therefore either the old one or the complete
new one, never half-written. Every failure (read-only or full disk, a folder
that is a file) becomes a :class:`ReportWriteError` naming the folder.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from desktop_app.core.errors import DermScreenError


class ReportWriteError(DermScreenError):
    """A report could not be written; the message names the folder and the reason."""

    def __init__(self, folder: str | Path, reason: str) -> None:
        self.folder = str(folder)
        self.reason = reason
        super().__init__(f"cannot write to folder {self.folder}: {reason}")


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


def ensure_output_dir(folder: str | Path) -> Path:
    """Create ``folder`` if needed and prove it is writable (a probe file), or raise."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ReportWriteError(folder, "a file with that name exists (not a folder)") from None
    except OSError as exc:
        raise ReportWriteError(folder, _reason(exc)) from None
    if not folder.is_dir():
        raise ReportWriteError(folder, "not a folder")
    try:
        fd, probe = tempfile.mkstemp(prefix=".dermscreen-probe-", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ReportWriteError(folder, _reason(exc)) from None
    return folder


@contextlib.contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``target``; on success it replaces ``target`` atomically.

    On any exception the temp file is removed and ``target`` is left as it was;
    an OSError is re-raised as :class:`ReportWriteError`.
    """
    target = Path(target)
    folder = target.parent
    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
        os.close(fd)
    except OSError as exc:
        raise ReportWriteError(folder, _reason(exc)) from None
    tmp = Path(tmp_name)
    try:
        yield tmp
        # Reports are read by other users (and Excel): the usual 0644, not mkstemp's 0600.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except OSError as exc:
        _discard(tmp)
        raise ReportWriteError(folder, f"{target.name}: {_reason(exc)}") from None
    except BaseException:
        _discard(tmp)
        raise


def _discard(tmp: Path) -> None:
    with contextlib.suppress(OSError):
        tmp.unlink()


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (fsync before the rename)."""
    target = Path(target)
    with atomic_path(target) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    return target


def write_text_atomic(target: str | Path, text: str, encoding: str = "utf-8") -> Path:
    return write_bytes_atomic(target, text.encode(encoding))
