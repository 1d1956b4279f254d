"""The one rule for reading a file: regular files only, opened without blocking.

A named pipe, a device such as ``/dev/zero``, a socket or a folder named ``*.jpg`` could
block a read forever or never end, so :func:`open_regular` checks before it opens and again
on the opened descriptor. :class:`ImageBytes` is what one read produced (bytes + hash).
A leaf of imaging: the image decoder and the DICOM reader both build on it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

# The most bytes one input file may hold (the decoder's file size limit): 256 MiB holds a
# 100-megapixel uncompressed 8-bit TIFF; a dermatoscope JPEG is a few MB.
MAX_FILE_BYTES = 256 * 2**20

# Open flags: never wait for a writer (FIFO) nor make a terminal ours; binary on Windows.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: "a regular file", "a folder", "a named pipe (FIFO)", ..."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


class NotRegularFileOSError(OSError):
    """:func:`open_regular` met a folder, pipe, device or socket; ``kind`` says which."""

    def __init__(self, path: str | Path, kind: str) -> None:
        super().__init__(errno.EINVAL, f"not a regular file ({kind})", str(path))
        self.kind = kind


def open_regular(path: str | Path) -> tuple[int, os.stat_result]:
    """Open ``path`` for reading only if it is a regular file; returns (fd, fstat).

    ``stat`` first, so a device or pipe is never even opened; then a
    non-blocking open and ``fstat`` of the opened descriptor, so a file swapped
    for a pipe in between is caught too. Raises :class:`NotRegularFileOSError`
    or the OSError of stat/open.
    """
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise NotRegularFileOSError(path, file_kind(st.st_mode))
    fd = os.open(path, _OPEN_FLAGS)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileOSError(path, file_kind(st.st_mode))
    except BaseException:
        os.close(fd)
        raise
    return fd, st


@dataclass(frozen=True, eq=False)
class ImageBytes:
    """A file's bytes as read once; what is hashed is what is decoded.

    ``salt`` is hashed after the bytes: one frame of a multi-frame DICOM object
    (``file.dcm#frame2``) has its own hash, so reviews kept by hash stay per frame.
    """

    path: Path
    data: bytes
    salt: bytes = b""

    @cached_property
    def sha256(self) -> str:
        """SHA-256 hex digest of :attr:`data` (+ :attr:`salt`), computed on first use."""
        digest = hashlib.sha256(self.data)
        if self.salt:
            digest.update(self.salt)
        return digest.hexdigest()
