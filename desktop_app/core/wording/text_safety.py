"""Text from data (file names, model metadata) made safe for a terminal, a spreadsheet or a label.

File names and model metadata are data an attacker can choose: an ANSI escape
in a model name recolours or rewrites the user's terminal, a newline forges a
log line, a bidirectional override makes ``gpj.exe`` read as ``exe.jpg``, and a
cell starting with ``=`` runs as a formula in Excel or LibreOffice. Every
writer that shows such text to a person goes through one of these functions.

File names are bytes on Linux: a name from an old archive or a network share
may hold bytes that are not UTF-8 (Latin-1 ``\xff``), which Python keeps as
lone surrogates (``surrogateescape``) that no UTF-8 writer accepts. The one
rule for them is :func:`undecodable_escaped`: the bytes are shown as visible
``\xff`` escapes (valid UTF-8 around them is decoded, also under a C locale),
so a CSV cell, a PDF, a terminal line, a log line or a window label names the
file without ever raising. Every function here applies it first.
"""

from __future__ import annotations

import os
import re

# C0 controls (tab, CR and LF included), DEL, C1 controls (CSI 0x9b is an escape
# on many terminals), and the Unicode bidirectional embeddings, overrides and
# isolates (Trojan-Source style reordering), plus the zero-width no-break space.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
REPLACEMENT = "\ufffd"
# OWASP "CSV injection": a cell whose first character is one of these is read as
# a formula (tab and CR too: some importers strip them and look again). Control
# characters are replaced by U+FFFD first, so a leading U+FFFD stands for them.
_FORMULA_START = frozenset("=+-@\t\r" + REPLACEMENT)
_NEUTRALISED = re.compile("^'+[=+\\-@\t\r" + REPLACEMENT + "]")
# Lone surrogates: what ``surrogateescape`` makes of bytes that did not decode
# (U+DC80..U+DCFF), or any other unpaired surrogate, which no UTF-8 codec writes.
_SURROGATES = re.compile("[\ud800-\udfff]+")


def _escape_surrogates(match: re.Match[str]) -> str:
    run = match.group(0)
    try:
        raw = run.encode("utf-8", "surrogateescape")  # the file name's own bytes back
    except UnicodeEncodeError:  # a surrogate no decoder made: show its code point
        return run.encode("unicode_escape").decode("ascii")
    # Bytes that form valid UTF-8 (a C locale decodes every non-ASCII byte this
    # way) become their characters again; the rest become \xNN escapes.
    return raw.decode("utf-8", "backslashreplace")


def undecodable_escaped(text: object) -> str:
    """``text`` (a str or a path) with bytes that are not valid UTF-8 shown as ``\\xNN``.

    THE rule for file names from disk: the result always encodes as UTF-8, and a
    name that was valid UTF-8 is returned unchanged.
    """
    raw = os.fspath(text) if isinstance(text, os.PathLike | bytes) else str(text)
    shown = os.fsdecode(raw) if isinstance(raw, bytes) else raw
    return _SURROGATES.sub(_escape_surrogates, shown)


def has_control(text: str) -> bool:
    """True when ``text`` holds a control or bidirectional-override character."""
    return _CONTROL.search(text) is not None


def display_text(text: object) -> str:
    """Text for a PDF, a window label or a log line: one line, always valid UTF-8.

    Undecodable bytes are escaped (:func:`undecodable_escaped`), control and
    bidi-override characters replaced by U+FFFD.
    """
    return replace_control(undecodable_escaped(text))


def strip_control(text: str) -> str:
    """``text`` with every control and bidi-override character removed."""
    return _CONTROL.sub("", undecodable_escaped(text))


def replace_control(text: str, replacement: str = REPLACEMENT) -> str:
    """``text`` with every control and bidi-override character replaced by ``replacement``."""
    return _CONTROL.sub(replacement, undecodable_escaped(text))


def terminal_safe(text: object) -> str:
    """``str(text)`` with control characters shown as visible escapes (``\\x1b``, ``\\n``, ``\\u202e``).

    For anything from data that is printed to a terminal or a log line: the
    terminal never receives a raw escape, and the reader still sees that the
    name holds something odd instead of a silently changed name.
    """

    def visible(match: re.Match[str]) -> str:
        return match.group(0).encode("unicode_escape").decode("ascii")

    return _CONTROL.sub(visible, undecodable_escaped(text))


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def spreadsheet_safe(cell: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula.

    Control characters are replaced by U+FFFD (so ``a\\nb.jpg`` cannot pass for
    ``ab.jpg``); a cell that starts with ``= + - @`` (after any apostrophes) gets
    one more leading apostrophe, as OWASP advises. Numbers (``-1.25``, ``1e-05``)
    are left alone so they stay numbers. :func:`spreadsheet_unescape` undoes the
    apostrophe exactly.
    """
    cell = replace_control(cell)
    if cell and not _is_number(cell) and (_NEUTRALISED.match(cell) or cell[0] in _FORMULA_START):
        return "'" + cell
    return cell


def spreadsheet_unescape(cell: str) -> str:
    """The cell :func:`spreadsheet_safe` was given (less replaced control characters)."""
    if _NEUTRALISED.match(cell) and not _is_number(cell):
        return cell[1:]
    return cell


def limit_length(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters, an ellipsis marking the cut."""
    if max_chars < 1:
        msg = f"max_chars must be at least 1, got {max_chars}"
        raise ValueError(msg)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\u2026"
