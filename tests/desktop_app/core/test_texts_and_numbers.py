"""One home for the app's words and its number formats."""

from __future__ import annotations

import errno
import math

from desktop_app.core.base.files import write_error_cause
from desktop_app.core.inference.results import CSV_COLUMNS
from desktop_app.core.wording import number_format as nf
from desktop_app.core.wording.texts import (
    CSV_COLUMN_DOCS,
    DISCLAIMER,
    DISCLAIMER_SHORT,
    INTENDED_USE,
)


def test_texts() -> None:
    assert tuple(CSV_COLUMN_DOCS) == CSV_COLUMNS
    assert all(doc.strip() for doc in CSV_COLUMN_DOCS.values())
    assert DISCLAIMER.startswith(DISCLAIMER_SHORT)
    assert "not a diagnosis" in INTENDED_USE and "not a diagnosis" in DISCLAIMER
    for text in (INTENDED_USE, DISCLAIMER):
        assert "<" not in text and "**" not in text  # plain text for every reader


def test_number_formats() -> None:
    assert nf.score(0.151943) == "0.15194"
    assert nf.fixed(0.73449) == "0.734" and nf.fixed(0.5, 2) == "0.50"
    assert nf.signed(1.254) == "+1.25" and nf.signed(-0.5) == "-0.50"
    assert nf.percent(0.65625) == "65.6%" and nf.percent(1.0, 0) == "100%"
    assert nf.ci(0.65, 0.81) == "0.650 - 0.810"
    assert nf.ci(0.65, 0.81, 1, as_percent=True) == "65.0% - 81.0%"
    for missing in (None, math.nan, math.inf):
        assert nf.score(missing) == nf.percent(missing) == nf.MISSING
        assert nf.ci(missing, 0.5) == nf.MISSING
    assert nf.number(None, missing="n/a") == "n/a"


def test_write_errors_name_their_cause() -> None:
    assert write_error_cause(OSError(errno.ENOSPC, "No space left on device")).startswith("disk full")
    assert write_error_cause(OSError(errno.EACCES, "Permission denied")) == "permission denied"
    assert write_error_cause(OSError(errno.EIO, "Input/output error")) == "Input/output error"
