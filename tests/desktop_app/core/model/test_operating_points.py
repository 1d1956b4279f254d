"""Which threshold a command decides at, and its name (core.operating_points.chosen_threshold)."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.base.paths import default_model_path
from desktop_app.core.model.model_file import read_metadata
from desktop_app.core.model.operating_points import (
    borderline_low,
    chosen_threshold,
    opening_threshold,
)


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


def test_the_borderline_band_moves_with_the_chosen_point() -> None:
    meta = read_metadata(default_model_path())
    default, _ = opening_threshold(meta)
    stored = borderline_low(meta)
    assert stored is not None and stored < default
    assert borderline_low(meta, default) == stored  # at the default: the stored 95% point
    stats = meta.benign_stats
    scores = np.asarray(stats.scores)
    share_at_default = np.mean((scores > stored) & (scores <= default)) / np.mean(scores > default)
    lows = []
    for alpha in (0.0, 0.5, 1.3, 2.0):
        t = stats.threshold(alpha)
        low = borderline_low(meta, t)
        assert low is not None and low < t
        lows.append(t - low)
        # The band adds the same proportion of benign validation images to those flagged.
        share = np.mean((scores > low) & (scores <= t)) / np.mean(scores > t)
        assert share == pytest.approx(share_at_default, abs=2.5 / np.sum(scores > t))
    assert borderline_low(meta, stats.threshold(0.5)) > default  # it moved up with the point
