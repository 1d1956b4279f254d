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


def test_score_decimals_one_format_in_which_different_scores_never_print_alike() -> None:
    # Four significant digits for the smallest score, the same decimals for every one.
    assert nf.score_decimals([0.0682, 0.9998]) == 5
    assert {len(nf.fixed(v, 5).split(".")[1]) for v in (0.0682, 0.9998)} == {5}
    # A flagged score just above its threshold never prints as the threshold.
    score, threshold = 0.3906841, 0.3906812
    d = nf.score_decimals([score, threshold])
    assert nf.fixed(score, d) != nf.fixed(threshold, d) and d == 6
    # Equal values, missing values and zero do not push the digits up.
    assert nf.score_decimals([0.5, 0.5, None, float("nan"), 0.0]) == 4
    assert nf.score_decimals([], most=6) == 2
    assert nf.score_decimals([1e-12, 2e-12], most=6) == 6  # capped
