"""End to end on a small real subset: terms -> validation choice -> ONNX the app loads.

Uses the session's tiny real CAE run (``small_run_dir``) as the reference and a small
ISIC subset (symlinks into the real data) so the whole pipeline runs in minutes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.labels import BENIGN_CLASSES

PER_CLASS_TRAIN = 12
PER_CLASS_TEST = 3
# Parity limit of the fused score for this tiny set-up (benign-sd units). The tiny CAE's raw
# score already differs by ~2.4e-5 (see model_fixtures), and with ~40 benign training images
# the sds that terms and hand features are divided by are small, so the fused gap (measured
# 3.3e-3) is larger than on the real model (5.6e-4 against the real gate's 1e-3).
TINY_FUSED_TOL = 1e-2


def _subset(isic9: Path, root: Path) -> Path:
    for split, n in (("Train", PER_CLASS_TRAIN), ("Test", PER_CLASS_TEST)):
        for class_dir in sorted((isic9 / split).iterdir()):
            # Benign classes need enough images for a split; malignant ones only validate.
            k = n if class_dir.name in BENIGN_CLASSES else max(2, n // 2)
            dst = root / split / class_dir.name
            dst.mkdir(parents=True)
            for f in sorted(class_dir.glob("*.jpg"))[:k]:
                os.symlink(f, dst / f.name)
    return root


@pytest.fixture(scope="module")
def improved_run(tmp_path_factory: pytest.TempPathFactory, isic9_dir: Path, small_run_dir: Path):
    from training.improved.pipeline import ImprovedConfig, run_improved

    base = tmp_path_factory.mktemp("improved")
    data = _subset(isic9_dir, base / "data")
    cfg = ImprovedConfig(
        data_dir=data, reference_run=small_run_dir, out_dir=base / "run",
        cache_dir=base / "cache", subtype_epochs=1,
    )
    result = run_improved(cfg, progress=lambda _m: None)
    return cfg, result


@pytest.mark.slow
def test_pipeline_chooses_on_validation_and_records_everything(improved_run) -> None:
    from training.improved.fusion import TERMS
    from training.improved.pipeline import TABLE_FILE

    cfg, result = improved_run
    saved = json.loads((cfg.out_dir / TABLE_FILE).read_text())
    assert saved["fusion"] == result["fusion"]
    assert "cae" in result["spec"]["terms"]  # the reference score is always the start
    # One ablation row per single term, plus the equal-weight, drop-one and final rows.
    fusions = [r["fusion"] for r in result["ablation"]]
    for t in TERMS:
        assert f"1*{t}" in fusions
    for row in result["ablation"]:
        assert 0.0 <= row["val_auroc"]["value"] <= 1.0
        lo, hi = row["test_auroc"]["ci95"]
        assert lo <= row["test_auroc"]["value"] <= hi
    # The default threshold reaches its validation sensitivity target.
    assert result["validation"]["sensitivity"] >= 0.85
    stats = result["benign_stats"]
    assert stats["n"] == result["validation"]["n_benign"]
    assert stats["mean"] + stats["alpha"] * stats["sd"] == pytest.approx(result["threshold"])


@pytest.mark.slow
def test_export_is_a_drop_in_model_for_the_app(improved_run, isic9_test_files) -> None:
    from desktop_app.core.model_file import load_model
    from desktop_app.core.model_metadata import OUTPUT_ERROR_MAP, OUTPUT_NAMES, OUTPUT_SCORE
    from desktop_app.core.preprocess import preprocess_file
    from export.convert import wrap_cae
    from export.parity import MAP_TOL
    from training.improved.export_improved import export_improved
    from training.improved.fusion import FusionSpec, build_fused_wrapper
    from training.improved.pipeline import SUBTYPE_FILE
    from training.run import load_keras_model, load_run

    cfg, result = improved_run
    out = cfg.out_dir / "dermscreen-improved.onnx"
    export_improved(result, cfg.reference_run, cfg.out_dir / SUBTYPE_FILE, cfg.data_dir, out,
                    "2026-11-25T00:00:00+00:00", progress=lambda _m: None,
                    score_tol=TINY_FUSED_TOL)
    assert out.with_suffix(".md").exists()
    assert Path(str(out) + ".sha256").exists()

    loaded = load_model(out, prefer_gpu=False)  # the app's own loader and contract checks
    md = loaded.metadata
    assert md.threshold == pytest.approx(result["threshold"])
    assert md.threshold_rule == result["threshold_rule"]
    assert md.benign_stats.n == result["benign_stats"]["n"]
    assert md.extra["fusion"]["terms"] == result["spec"]["terms"]
    assert md.heatmap_vmax == pytest.approx(load_run(cfg.reference_run).heatmap_vmax)

    batch = np.stack([preprocess_file(f, md.preprocess) for f in isic9_test_files[::20]])
    got = loaded.run(batch, OUTPUT_NAMES)
    spec = FusionSpec.from_dict(result["spec"])
    import keras

    sub = keras.models.load_model(cfg.out_dir / SUBTYPE_FILE, compile=False)
    fused_wrapper = build_fused_wrapper(load_keras_model(cfg.reference_run), spec, sub)
    want = fused_wrapper(batch, training=False)
    np.testing.assert_allclose(got[OUTPUT_SCORE], np.asarray(want[OUTPUT_SCORE]),
                               atol=TINY_FUSED_TOL)
    assert np.ptp(got[OUTPUT_SCORE]) > 100 * TINY_FUSED_TOL  # far below the score's spread
    # The heatmap is the reference CAE's error map, unchanged (within the export gate's
    # error-map limit: ONNX Runtime vs Keras on a tiny, nearly flat CAE).
    ref = wrap_cae(load_keras_model(cfg.reference_run), *md.loss_weights.values())
    np.testing.assert_allclose(got[OUTPUT_ERROR_MAP],
                               np.asarray(ref(batch, training=False)[OUTPUT_ERROR_MAP]),
                               atol=MAP_TOL)


@pytest.mark.slow
def test_feature_and_subtype_terms_export_to_onnx_exactly(
    small_run_dir: Path, isic9_test_files
) -> None:
    """Each in-graph term that is not the CAE's, raw (unstandardised): ONNX Runtime equals
    Keras within 1e-5 for the smooth terms and 1e-4 for those built on the lesion mask
    (its sigmoid is steep: 1/0.03 per colour unit, so fp32 rounding of the colour distance
    moves mask-based sums by ~2e-5), relative above 1 (the border term sums 16k pixels)."""
    import keras

    from desktop_app.core.model_metadata import OUTPUT_SCORE
    from desktop_app.core.preprocess import preprocess_file
    from export.convert import convert_to_onnx
    from export.parity import keras_outputs, onnx_outputs
    from training.improved.features import group_sizes
    from training.improved.fusion import FusionSpec, build_fused_wrapper
    from training.improved.subtype import SUBTYPES, build_subtype_net
    from training.run import load_keras_model

    keras.utils.set_random_seed(0)
    sub = build_subtype_net(width=8, feature_dim=8)
    cae = load_keras_model(small_run_dir)
    rng = np.random.default_rng(0)
    n_feat = sum(group_sizes().values())
    constants = {
        "class_means": rng.normal(0, 0.1, (len(SUBTYPES), 8)).tolist(),
        "precision": np.eye(8).tolist(),
        "feat_mu": rng.uniform(0, 0.5, n_feat).tolist(),
        "feat_sd": rng.uniform(0.05, 0.5, n_feat).tolist(),
        "lr_weights": rng.normal(0, 0.2, (n_feat, len(SUBTYPES))).tolist(),
        "lr_bias": rng.normal(0, 0.2, len(SUBTYPES)).tolist(),
    }
    batch = np.stack([preprocess_file(f) for f in isic9_test_files[::15]]).astype(np.float32)
    limits = {"asymmetry": 1e-4, "border": 1e-4, "area": 1e-4, "feature_subtype_entropy": 1e-4,
              "green_sd": 1e-5, "subtype_entropy": 1e-5, "subtype_maha": 1e-5}
    for term, limit in limits.items():
        spec = FusionSpec(terms=[term], weights=[1.0], mu=[0.0], sd=[1.0], **constants)
        wrapper = build_fused_wrapper(cae, spec, sub)
        proto = convert_to_onnx(wrapper)
        k = keras_outputs(wrapper, batch)[OUTPUT_SCORE].astype(np.float64)
        o = onnx_outputs(proto.SerializeToString(), batch)[OUTPUT_SCORE].astype(np.float64)
        assert np.ptp(k) > 0.0, term  # the term really varies between images
        tol = limit * np.maximum(1.0, np.abs(k))
        assert np.all(np.abs(o - k) <= tol), (term, np.abs(o - k).max())
