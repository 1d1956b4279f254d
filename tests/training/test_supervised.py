"""The labelled lane's weighting, head and per-site figures, and the committed three-site splits."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation.splits import (
    HAM_EVAL,
    ISIC9_TEST,
    ISIC2017_EVAL,
    SUPERVISED_TRAIN,
    SUPERVISED_VALIDATION,
    UDA1_EXTERNAL,
    read_split,
    split_samples,
)
from tests.support.data import DATA
from training.supervised import class_weights, fit_head, per_site_auroc, site_of


@pytest.fixture(scope="module")
def train():
    return split_samples(SUPERVISED_TRAIN, DATA)


def test_splits_are_disjoint_and_cover_three_sites(train) -> None:
    lists = {n: {e.rel_path for e in read_split(n)} for n in
             (SUPERVISED_TRAIN, SUPERVISED_VALIDATION, HAM_EVAL, ISIC2017_EVAL, ISIC9_TEST,
              UDA1_EXTERNAL)}
    names = list(lists)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            assert not lists[a] & lists[b], (a, b)
    cells = Counter((site_of(s), s.is_malignant) for s in train)
    for site in ("isic9", "ham-extra", "isic2017"):
        assert cells[(site, True)] > 50 and cells[(site, False)] > 500, site
    # isic2017-eval: the 150 official validation images plus a quarter of the train images.
    assert 500 <= len(lists[ISIC2017_EVAL]) <= 530


def test_ham_eval_is_lesion_disjoint_from_training() -> None:
    import csv

    lesion = {}
    with (DATA / "ham-extra" / "metadata.csv").open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            lesion[row["image_id"]] = row["lesion_id"]

    def lesions(name: str) -> set[str]:
        return {lesion[Path(e.rel_path).stem] for e in read_split(name) if "ham-extra" in e.rel_path}

    assert not lesions(HAM_EVAL) & (lesions(SUPERVISED_TRAIN) | lesions(SUPERVISED_VALIDATION))


@pytest.mark.parametrize("scheme", ["label", "class", "site", "site_class"])
def test_weights_balance_what_they_say(train, scheme: str) -> None:
    w = class_weights(train, scheme)
    y = np.array([s.is_malignant for s in train])
    assert w.sum() == pytest.approx(len(train))
    assert w[y].sum() == pytest.approx(w[~y].sum())
    if scheme in ("site", "site_class"):
        totals: dict = defaultdict(float)
        for s, wi in zip(train, w, strict=True):
            totals[(site_of(s), s.is_malignant)] += wi
        for label in (False, True):
            cell = [v for (_, m), v in totals.items() if m == label]
            assert max(cell) == pytest.approx(min(cell))
    if scheme == "site_class":  # inside a cell, every class present weighs the same
        shares: dict = defaultdict(float)
        for s, wi in zip(train, w, strict=True):
            shares[(site_of(s), s.is_malignant, s.cls)] += wi
        for (site, mal), total in totals.items():
            parts = [v for (si, m, _), v in shares.items() if (si, m) == (site, mal)]
            assert sum(parts) == pytest.approx(total)
            assert max(parts) == pytest.approx(min(parts))
    if scheme == "class":
        by_class: dict = defaultdict(float)
        for s, wi in zip(train, w, strict=True):
            by_class[s.cls] += wi
        benign = [v for c, v in by_class.items() if c in ("nevus", "dermatofibroma")]
        assert benign[0] == pytest.approx(benign[1])


def test_head_learns_a_separable_problem_and_per_site_reports_worst(train) -> None:
    rng = np.random.default_rng(0)
    y = np.array([s.is_malignant for s in train])
    x = rng.normal(size=(len(train), 5)) + y[:, None] * np.array([2.0, 0, 0, 0, 0])
    head = fit_head(x, y, class_weights(train, "site"), c=1.0)
    r = per_site_auroc(train, head.logit(x))
    assert r["worst"] == min(r[s] for s in ("isic9", "ham-extra", "isic2017"))
    assert r["worst"] > 0.85
    shuffled = per_site_auroc(train, rng.permutation(head.logit(x)))
    assert shuffled["pooled"] < 0.6  # the figure can fail: a score that ignores the label
