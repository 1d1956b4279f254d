"""Data printed to the terminal never carries control characters raw."""

from __future__ import annotations

from desktop_app.cli.terminal import printable


def test_printable_escapes_controls_and_keeps_text() -> None:
    assert printable("ISIC_0000002.jpg") == "ISIC_0000002.jpg"
    assert printable("naïve 皮膚 tab\tkept") == "naïve 皮膚 tab\tkept"
    shown = printable("a\x1b[31mred\x1b[0m\nb\rc\x07\x9b\u202eevil")
    assert all(c not in shown for c in "\x1b\n\r\x07\x9b\u202e")
    assert shown == "a\\x1b[31mred\\x1b[0m\\nb\\rc\\x07\\x9b\\u202eevil"
