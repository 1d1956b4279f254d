"""The decision rule: threshold, z, percentile from benign validation scores."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.model.score_stats import BenignStats, decide


def test_threshold_is_mean_plus_alpha_sd() -> None:
    stats = BenignStats.from_scores([1.0, 2.0, 3.0, 4.0, 5.0], alpha=1.3)
    assert stats.mean == pytest.approx(3.0)
    assert stats.sd == pytest.approx(np.std([1, 2, 3, 4, 5], ddof=1))
    assert stats.threshold() == pytest.approx(3.0 + 1.3 * stats.sd)
    assert stats.threshold(0.0) == pytest.approx(3.0)
    assert stats.alpha_for(stats.threshold(2.0)) == pytest.approx(2.0)


def test_z_and_percentile() -> None:
    stats = BenignStats.from_scores([1.0, 2.0, 3.0, 4.0])
    assert stats.z(stats.mean + stats.sd) == pytest.approx(1.0)
    assert stats.percentile(0.5) == 0.0
    assert stats.percentile(2.0) == 50.0
    assert stats.percentile(10.0) == 100.0
    assert stats.specificity_at(3.0) == 0.75


def test_round_trip_and_quantiles() -> None:
    rng = np.random.default_rng(0)
    stats = BenignStats.from_scores(rng.normal(0.2, 0.05, 200), alpha=1.5)
    again = BenignStats.from_dict(stats.to_dict())
    assert again == stats
    assert stats.quantiles["q50"] == pytest.approx(np.median(stats.scores))
    assert list(stats.scores) == sorted(stats.scores)


def test_rejects_too_few_or_non_finite() -> None:
    with pytest.raises(ValueError, match="at least two"):
        BenignStats.from_scores([1.0])
    with pytest.raises(ValueError):
        BenignStats.from_scores([1.0, float("nan")])


def test_decide() -> None:
    assert decide(0.5, 0.4) == "anomalous"
    assert decide(0.4, 0.4) == "normal"
