"""Build the model's :class:`ModelMetadata` from a finished training run.

Everything comes from the run folder (run.json, threshold.json, metrics.json);
nothing is recomputed here, so the model carries exactly the threshold and
figures training produced.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.core.base.files import utc_now_iso
from desktop_app.core.evaluation.metrics import operating_points
from desktop_app.core.model.metadata import ModelMetadata
from training.run import RunInfo, preprocess_config

DEFAULT_NAME = "DermScreen CAE"
DEFAULT_VERSION = "0.0.0"
DESCRIPTION = (
    "Convolutional autoencoder trained on benign dermoscopic images only; images it "
    "reconstructs badly (hybrid MSE/SSIM score above the threshold) are flagged as "
    "anomalous. A triage aid, not a diagnosis."
)
# Figures the app shows or the model card prints; per-image lists stay in the run folder.
_EVALUATION_KEYS = (
    "threshold",
    "alpha",
    "threshold_rule",
    "decision",
    "ci_method",
    "bootstrap_resamples",
    "bootstrap_seed",
    "test",
    "test_excluding_ambiguous",
    "at_alphas",
    "at_sensitivity_targets",
    "validation_chosen",
    "seen_vs_new",
    "report_comparison",
    "test_data_hash",
)


def _relative(path: str, root: str) -> str:
    """``path`` relative to ``root`` (a data folder) so no machine's layout is stored."""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def evaluation_summary(metrics: dict[str, Any] | None) -> dict[str, Any]:
    """The evaluation figures from metrics.json, without absolute paths."""
    if not metrics:
        return {}
    out = {key: metrics[key] for key in _EVALUATION_KEYS if key in metrics}
    clean = out.get("test_excluding_ambiguous")
    if isinstance(clean, dict) and "excluded" in clean:
        root = str(metrics.get("data_dir", ""))
        clean = dict(clean)
        clean["excluded"] = [_relative(p, root) for p in clean["excluded"]]
        out["test_excluding_ambiguous"] = clean
    return out


def data_summary(config: dict[str, Any]) -> dict[str, Any]:
    """Hash and summary of the training data (from run.json)."""
    return {
        "hash": config.get("data_hash", ""),
        "hash_rule": "sha256 over sorted '<file sha256> <class>' lines of the train+val images",
        "dataset": Path(str(config.get("data_dir", ""))).name,
        "n_train": len(config.get("train_files", [])),
        "n_val": len(config.get("val_files", [])),
        "audit": config.get("audit", {}),
    }


def training_summary(info: RunInfo) -> dict[str, Any]:
    """How the model was trained (from run.json)."""
    config = info.config
    keys = (
        "seed", "epochs", "batch_size", "optimizer", "learning_rate", "val_fraction", "limit",
        "augment",
    )
    out: dict[str, Any] = {k: config[k] for k in keys if k in config}
    timing = config.get("timing", {})
    if "epochs_done" in timing:
        out["epochs_done"] = timing["epochs_done"]
    out["trained"] = config.get("created", "")
    if info.loss_ssim_window != info.ssim_window:
        out["loss_ssim_window"] = info.loss_ssim_window.describe()
    for key in ("extra_benign", "n_train", "n_val", "patience", "max_minutes"):
        if config.get(key) is not None:
            out[key] = config[key]
    if config.get("variational"):
        out["variational"] = True
        out["kl_weight"] = config.get("kl_weight")
    known = config.get("known_anomalies")
    if known:
        # Semi-supervised: which labelled malignant images trained (by file name: no machine paths).
        out["known_anomalies"] = {
            "share": known["share"], "margin": known["margin"], "weight": known["weight"],
            "rule": known["rule"], "n_train": len(known["train_files"]),
            "n_val": len(known["val_files"]),
            "train_images": sorted(Path(r["path"]).name for r in known["train_files"]),
        }
    if info.field_of_view is not None:
        out["field_of_view"] = info.field_of_view.to_dict()
        out["field_of_view_rule"] = info.field_of_view.describe()
        if config.get("options", {}).get("fov_loss"):
            out["field_of_view_in_loss"] = True
    return out


def build_metadata(
    info: RunInfo,
    name: str = DEFAULT_NAME,
    version: str = DEFAULT_VERSION,
    *,
    created: str | None = None,
    description: str = DESCRIPTION,
    extra: dict[str, Any] | None = None,
) -> ModelMetadata:
    """ModelMetadata for the run's model: threshold, stats, preprocessing, data, figures."""
    metrics = info.metrics or {}
    points = metrics.get("operating_points") or operating_points(info.stats)
    return ModelMetadata(
        model_name=name,
        model_version=version,
        created=created or utc_now_iso(),
        threshold=info.threshold,
        threshold_rule=info.threshold_rule,
        benign_stats=info.stats,
        loss_weights=info.loss_weights,
        ssim_window=info.ssim_window,
        preprocess=preprocess_config(info),
        heatmap_vmax=float(info.heatmap_vmax),
        data=data_summary(info.config),
        evaluation=evaluation_summary(info.metrics),
        operating_points=list(points),
        description=description,
        extra={"training": training_summary(info), **(extra or {})},
    )
