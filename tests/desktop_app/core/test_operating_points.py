"""Which threshold a command decides at, and its name (core.operating_points.chosen_threshold)."""

from __future__ import annotations

import pytest

from desktop_app.core.model_file import read_metadata
from desktop_app.core.operating_points import chosen_threshold, opening_threshold
from desktop_app.core.paths import default_model_path


def test_explicit_then_alpha_then_where_the_window_opens() -> None:
    meta = read_metadata(default_model_path())  # the shipped default: it has a screening point
    assert chosen_threshold(meta) == opening_threshold(meta)
    assert chosen_threshold(meta)[1] == "screening point"
    assert chosen_threshold(meta)[0] < meta.threshold  # not the alpha-1.3 T
    assert chosen_threshold(meta, threshold=0.2) == (0.2, "given")
    t, name = chosen_threshold(meta, alpha=1.3)
    assert t == pytest.approx(meta.benign_stats.threshold(1.3)) and name == "alpha 1.3"
    with pytest.raises(ValueError, match="either a threshold or an alpha"):
        chosen_threshold(meta, alpha=1.0, threshold=0.2)
