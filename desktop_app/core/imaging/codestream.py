"""Compressed pixel data read as bytes, never decoded: which codestream it is (JPEG, JPEG-LS,
JPEG 2000), where an encapsulated object's first fragment starts, and the size a codestream
declares in its header (SOFn / SOF55 / SIZ). The DICOM reader checks that size against the
header and the pixel cap before any decoder allocates anything (decompression bombs)."""

from __future__ import annotations

import struct


def codec_of(data: bytes) -> str:
    """Which compressed codestream ``data`` starts with ('' when none)."""
    if data.startswith(b"\xff\xd8\xff\xf7"):
        return "JPEG-LS"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\xff\x4f\xff\x51") or data[4:8] == b"jP  ":
        return "JPEG 2000"
    return ""


def first_fragment_start(data: bytes) -> bytes:
    """The first bytes of the first fragment, if ``data`` is encapsulated (items), else ``data``."""
    item = b"\xfe\xff\x00\xe0"
    if not data.startswith(item):
        return data[:16]
    bot_len = struct.unpack_from("<I", data, 4)[0] if len(data) >= 8 else 0
    at = 8 + bot_len
    if data[at:at + 4] == item:
        return data[at + 8:at + 24]
    return b""


def codestream_size(data: bytes) -> tuple[str, int, int] | None:
    """(codec, width, height) a JPEG, JPEG-LS or JPEG 2000 codestream declares in its header
    (SOFn / SOF55 / SIZ), read without decoding; None when no such header is found."""
    if data[4:8] == b"jP  ":  # a JP2 file: the codestream sits in its jp2c box
        at = data.find(b"\xff\x4f\xff\x51")
        data = data[at:] if at >= 0 else b""
    if data.startswith(b"\xff\x4f\xff\x51") and len(data) >= 24:
        xsiz, ysiz, xo, yo = struct.unpack_from(">IIII", data, 8)
        return "JPEG 2000", max(0, xsiz - xo), max(0, ysiz - yo)
    if not data.startswith(b"\xff\xd8"):
        return None
    at = 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # no length
            at += 2
            continue
        length = struct.unpack_from(">H", data, at + 2)[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE,
                      0xCF, 0xF7):
            if at + 9 > len(data):
                return None
            height, width = struct.unpack_from(">HH", data, at + 5)
            return ("JPEG-LS" if marker == 0xF7 else "JPEG"), width, height
        if marker == 0xDA or length < 2:  # scan data before any frame header
            return None
        at += 2 + length
    return None


def first_fragment(data: bytes) -> bytes:
    """The whole first fragment of encapsulated pixel data (up to 64 KB of it)."""
    item = b"\xfe\xff\x00\xe0"
    if not data.startswith(item) or len(data) < 8:
        return data[:65536]
    bot_len = struct.unpack_from("<I", data, 4)[0]
    at = 8 + bot_len
    if data[at:at + 4] != item or len(data) < at + 8:
        return b""
    size = struct.unpack_from("<I", data, at + 4)[0]
    return data[at + 8:at + 8 + min(size, 65536)]
