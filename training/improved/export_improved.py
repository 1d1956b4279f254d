"""Export the improved detector as one ONNX file with the reference's contract, plus its card.

Input ``image``, outputs ``reconstruction`` and ``error_map`` (the reference CAE's, so the
heatmap and its ``heatmap_vmax`` are the reference's) and ``score`` (the fused score).
``benign_stats`` are the fused score's statistics over the benign validation images and
``threshold_rule`` says how the threshold was chosen.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from desktop_app.core.model_metadata import ModelMetadata
from desktop_app.core.score_stats import BenignStats

MODEL_NAME = "DermScreen improved (CAE + benign-subtype + lesion terms)"
MODEL_VERSION = "1.0.0"
# Score parity floor, in the fused score's units (benign standard deviations): a thousandth
# of a benign sd. The reference gate's 1e-5 on a raw score whose benign sd is ~0.037 allows
# ~3e-4 sd; the fused score adds mask- and feature-based terms (steep lesion mask, features
# standardised by small sds) whose fp32 rounding was measured at ~8e-4 sd in total.
FUSED_SCORE_TOL = 1e-3
DESCRIPTION = (
    "Benign-only anomaly detector: the reference convolutional autoencoder's hybrid "
    "reconstruction score fused (benign z-scores, weights chosen on validation) with terms "
    "that need no malignant training image: the uncertainty of a small CNN that tells "
    "benign subtypes apart, and lesion shape/colour statistics scored against benign "
    "lesions. The heatmap is the autoencoder's reconstruction error. A triage aid, "
    "not a diagnosis."
)


def fused_score_tolerance(spec, base_tol: float) -> float:
    """Parity limit of the fused score: the CAE score's own limit times the fusion's gain.

    A raw term enters the fused score multiplied by ``w / sd``; a Keras/ONNX difference
    the reference gate accepts on the raw CAE score (``base_tol``) grows by that factor.
    """
    gain = max(abs(w) / sd for w, sd in zip(spec.weights, spec.sd, strict=True))
    return max(FUSED_SCORE_TOL, base_tol * gain)


def build_improved_metadata(result: dict[str, Any], reference_info, created: str) -> ModelMetadata:
    """ModelMetadata for the fused model from a pipeline result and the reference run."""
    from export.metadata import data_summary
    from training.run import preprocess_config

    stats = BenignStats.from_dict(result["benign_stats"])
    evaluation = {
        "threshold": result["threshold"],
        "alpha": stats.alpha,
        "threshold_rule": result["threshold_rule"],
        "ci_method": "stratified percentile bootstrap",
        "bootstrap_resamples": 2000,
        "bootstrap_seed": 0,
        "validation": result["validation"],
        "test": result["test"],
        "test_excluding_ambiguous": result["test_excluding_ambiguous"],
        "reference_test": result["reference_test"],
        "test_auroc_gain_over_reference": result["test_auroc_gain_over_reference"],
    }
    return ModelMetadata(
        model_name=MODEL_NAME,
        model_version=MODEL_VERSION,
        created=created,
        threshold=float(result["threshold"]),
        threshold_rule=result["threshold_rule"],
        benign_stats=stats,
        loss_weights=reference_info.loss_weights,
        preprocess=preprocess_config(reference_info),
        heatmap_vmax=float(reference_info.heatmap_vmax),
        data=data_summary(reference_info.config),
        evaluation=evaluation,
        operating_points=result["operating_points"],
        description=DESCRIPTION,
        extra={"fusion": result["spec"], "fusion_formula": result["fusion"],
               "reference_run": str(reference_info.run_dir.name)},
    )


def export_improved(
    result: dict[str, Any],
    reference_run: str | Path,
    subtype_path: str | Path,
    data_dir: str | Path,
    out_path: str | Path,
    created: str,
    progress=print,
    score_tol: float | None = None,
) -> Path:
    """Build the fused wrapper, convert, gate on parity (ONNX vs Keras), write model + card.

    ``score_tol`` overrides the fused score's parity limit (default
    :func:`fused_score_tolerance` of the reference gate's limit).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras

    from export.convert import build_onnx, write_model_files
    from export.model_card import card_path
    from export.parity import SCORE_TOL, load_parity_images, select_parity_files
    from training.improved.fusion import FusionSpec, build_fused_wrapper
    from training.improved.model_card import write_improved_card
    from training.run import load_keras_model, load_run, preprocess_config

    info = load_run(reference_run)
    spec = FusionSpec.from_dict(result["spec"])
    cae = load_keras_model(reference_run)
    subtype = keras.models.load_model(subtype_path, compile=False) if spec.needs_subtype else None
    wrapper = build_fused_wrapper(cae, spec, subtype)
    metadata = build_improved_metadata(result, info, created)
    images = load_parity_images(select_parity_files(data_dir), preprocess_config(info))
    tol = fused_score_tolerance(spec, SCORE_TOL) if score_tol is None else score_tol
    progress(f"parity limit of the fused score: {tol:.3g}")
    model_bytes, report = build_onnx(wrapper, metadata, images, score_tol=tol)
    progress(report.describe())
    out_path = Path(out_path)
    digest = write_model_files(model_bytes, out_path)
    progress(f"wrote {out_path} ({len(model_bytes) / 1e6:.1f} MB), sha256 {digest}")
    write_improved_card(card_path(out_path), metadata, result, out_path.name, digest, report)
    return out_path
