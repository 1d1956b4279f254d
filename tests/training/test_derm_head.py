"""Heads on frozen features (issue 34): the folded export form, the 8-diagnosis target's
malignant log-odds, the training core and the peer's in-sample marks. Small real fits on
synthetic features (the Xception is never run here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.labels import label_of
from training.derm_head import DX, MALIGNANT_DX, fit
from training.xception import core_training, peer_malignant, peer_trained_on


def _samples(n: int, rng: np.random.Generator) -> tuple[list[Sample], np.ndarray]:
    classes = sorted(DX)
    picked = [classes[i % len(classes)] for i in range(n)]
    samples = [Sample(Path(f"/data/isic9/Train/{c}/ISIC_{9000000 + i}.jpg"), "", c, label_of(c))
               for i, c in enumerate(picked)]
    # Features that carry the diagnosis (plus noise), so both targets can learn something.
    centres = rng.normal(size=(len(classes), 16))
    x = np.stack([centres[classes.index(c)] for c in picked]) + rng.normal(size=(n, 16)) * 0.8
    return samples, x


@pytest.mark.parametrize("target", ["binary", "dx8"])
def test_folded_head_gives_the_same_logit_on_raw_features(target: str) -> None:
    rng = np.random.default_rng(0)
    samples, x = _samples(180, rng)
    head = fit(x, samples, np.ones(len(samples)), 1.0, target)
    kernel, bias = head.folded()
    z = x @ kernel + bias
    np.testing.assert_allclose(z, head.scores(x), atol=1e-9)
    y = np.array([s.is_malignant for s in samples])
    from desktop_app.core.evaluation.metrics import roc_auc

    assert roc_auc(y, head.logit(x)) > 0.8  # it learned the labels, not noise


def test_dx8_logit_is_the_log_odds_of_the_summed_malignant_probability() -> None:
    rng = np.random.default_rng(1)
    samples, x = _samples(180, rng)
    head = fit(x, samples, np.ones(len(samples)), 1.0, "dx8")
    assert set(head.classes) == set(DX.values())
    z = head.scores(x)
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    mal = np.array([c in MALIGNANT_DX for c in head.classes])
    pm = p[:, mal].sum(axis=1)
    np.testing.assert_allclose(head.logit(x), np.log(pm / (1 - pm)), atol=1e-6)


def test_unknown_target_is_refused() -> None:
    rng = np.random.default_rng(2)
    samples, x = _samples(30, rng)
    with pytest.raises(ValueError, match="unknown target"):
        fit(x, samples, np.ones(30), 1.0, "dx9")


def test_peer_in_sample_marks() -> None:
    assert peer_trained_on("/d/ham-extra/benign/nv/ISIC_0099999.jpg")
    assert peer_trained_on("/d/isic9/Train/melanoma/ISIC_0024306.jpg")
    assert peer_trained_on("/d/isic9/Train/melanoma/ISIC_0034320.jpg")
    assert not peer_trained_on("/d/isic9/Train/melanoma/ISIC_0034321.jpg")
    assert not peer_trained_on("/d/isic9/Train/melanoma/ISIC_0010512.jpg")
    assert not peer_trained_on("/d/isic2017/benign/nv/ISIC_0012345.jpg")


def test_peer_malignant_sums_akiec_bcc_mel() -> None:
    probs = np.array([[0.1, 0.2, 0.05, 0.05, 0.3, 0.25, 0.05]])
    assert peer_malignant(probs)[0] == pytest.approx(0.6)


def test_training_core_is_a_cell_balanced_prefix_of_a_seeded_round_robin() -> None:
    def s(site: str, cls: str, i: int) -> Sample:
        return Sample(Path(f"/d/{site}/x/{cls}/ISIC_{i:07d}.jpg"), "", cls, label_of(cls))

    samples = ([s("ham-extra", "nevus", i) for i in range(900)]
               + [s("ham-extra", "melanoma", 1000 + i) for i in range(20)]
               + [s("isic2017", "nevus", 2000 + i) for i in range(100)])
    full = core_training(samples)
    assert sorted(map(str, (x.path for x in full))) == sorted(map(str, (x.path for x in samples)))
    core = core_training(samples, 90)
    assert core == full[:90] and core == core_training(samples, 90)  # a seeded prefix
    # Every cell gets its turn until it runs out: all 20 melanomas, then the two benign cells.
    assert sum(x.cls == "melanoma" for x in core) == 20
    assert abs(sum(x.cls == "nevus" and "ham-extra" in x.path.parts for x in core)
               - sum("isic2017" in x.path.parts for x in core)) <= 1
