"""`dermscreen-train score-variants`: lesion-weighted and code-distance scores of a real model."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.support.data import DATA
from training.score_variants import (
    CodeModel,
    format_variants,
    knn_distance,
    lesion_masks,
    run_variants,
)


def test_code_distance_and_lesion_masks_on_real_images(small_model_path: Path,
                                                       isic9_test_files: list[Path]) -> None:
    model = CodeModel(small_model_path)
    arrays = model.arrays(isic9_test_files[:6])
    assert arrays["code"].shape == (6, 128) and arrays["err"].shape == (6, 128, 128)
    assert np.allclose(knn_distance(arrays["code"], arrays["code"], k=1), 0.0, atol=1e-3)
    far = knn_distance(arrays["code"][:1] + 100.0, arrays["code"], k=1)
    assert far[0] > 100.0
    masks = lesion_masks(arrays["grey"])
    fov = arrays["grey"] * 255 > 20
    for m, f in zip(masks, fov, strict=True):
        assert 0.02 <= m.mean() <= 0.9 or np.array_equal(m, f)
        assert not (m & ~f).any()  # the lesion lies inside the field of view


def test_every_variant_is_reported_and_validation_chooses(small_model_path: Path) -> None:
    report = run_variants(small_model_path, DATA, n_resamples=20, progress=lambda _m: None, limit=8)
    names = [r["variant"] for r in report["rows"]]
    assert "score (the model's)" in names and "lesion mean error" in names
    assert any(n.startswith("code") for n in names) and any(n.startswith("z(") for n in names)
    best = max(report["rows"], key=lambda r: r["validation"]["value"])
    assert report["chosen_on_validation"] == best["variant"]
    for row in report["rows"]:
        lo, hi = row["pooled"]["ci95"]
        assert lo <= row["pooled"]["value"] <= hi
    table = format_variants(report)
    assert table.count("\n| ") == len(report["rows"])  # one line per variant under the header
