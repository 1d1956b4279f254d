"""Scoring helpers use THE hybrid score and BenignStats' rule."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.model.score_stats import BenignStats
from training.losses import error_map, hybrid_score
from training.model import build_cae
from training.threshold import benign_threshold, heatmap_vmax, score_images


@pytest.fixture(scope="module")
def model_and_images():
    import keras

    keras.utils.set_random_seed(0)
    x = np.random.default_rng(1).random((5, 128, 128, 3), dtype=np.float32)
    return build_cae(), x


def test_score_images_equals_hybrid_score_in_any_batch(model_and_images) -> None:
    model, x = model_and_images
    direct = hybrid_score(x, model(x, training=False), 0.4, 0.6).numpy()
    np.testing.assert_allclose(score_images(model, x, 0.4, 0.6, batch_size=2), direct, rtol=1e-5)
    assert score_images(model, x[:0], 0.4, 0.6).size == 0


def test_heatmap_vmax_is_99th_percentile(model_and_images) -> None:
    model, x = model_and_images
    maps = error_map(x, model(x, training=False), 0.4, 0.6).numpy()
    assert heatmap_vmax(model, x, 0.4, 0.6, batch_size=3) == pytest.approx(np.percentile(maps, 99), rel=1e-5)


def test_benign_threshold_is_benign_stats_rule() -> None:
    scores = [0.1, 0.12, 0.15, 0.11]
    stats = benign_threshold(np.array(scores), alpha=1.5)
    assert stats == BenignStats.from_scores(scores, alpha=1.5)
    assert stats.threshold() == pytest.approx(np.mean(scores) + 1.5 * np.std(scores, ddof=1))
    with pytest.raises(ValueError, match="two finite"):
        benign_threshold(np.array([0.1]))
