"""A training run folder: what is in it and how to read it back.

RUN_DIR holds model.keras, run.json (configuration, data, timing), threshold.json
(BenignStats of the validation scores, T, heatmap_vmax), history.json (per-epoch
losses, seconds, memory), scores_{train,val,test}.csv, metrics.json and plots/
after evaluation. Every file is written atomically (temp file + os.replace).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.base.files import write_text_atomic
from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import ALPHA_RULE, SsimWindow
from desktop_app.core.model.score_stats import BenignStats
from training.fov import FieldOfView

MODEL_FILE = "model.keras"
RUN_FILE = "run.json"
THRESHOLD_FILE = "threshold.json"
HISTORY_FILE = "history.json"
METRICS_FILE = "metrics.json"
PLOTS_DIR = "plots"
SCORE_COLUMNS = ("path", "class", "label", "score")


def validation_sensitivity_rule(target: float, n_malignant: int) -> str:
    """How a validation-chosen threshold was chosen, in words (model metadata and card)."""
    return (
        f"validation sensitivity {round(100 * target)}%: the highest threshold flagging at least "
        f"{100 * target:g}% of {n_malignant} Train malignant images (never trained on)"
    )


@dataclass
class RunInfo:
    """Everything a finished run folder records."""

    run_dir: Path
    config: dict[str, Any]
    stats: BenignStats
    heatmap_vmax: float
    metrics: dict[str, Any] | None = None
    history: dict[str, Any] = field(default_factory=dict)
    # Set by `evaluate --threshold-at-validation-sensitivity`; None: T = mean + alpha * sd.
    chosen_threshold: float | None = None
    threshold_rule: str = ALPHA_RULE

    @property
    def loss_weights(self) -> dict[str, float]:
        return {k: float(v) for k, v in self.config["loss_weights"].items()}

    @property
    def ssim_window(self) -> SsimWindow:
        """The score's SSIM window (runs older than the option: the reference's)."""
        return SsimWindow.from_dict(self.config.get("ssim_window"))

    @property
    def loss_ssim_window(self) -> SsimWindow:
        """The window the CAE trained with (differs after `rescore` with another window)."""
        if "loss_ssim_window" in self.config:
            return SsimWindow.from_dict(self.config["loss_ssim_window"])
        return self.ssim_window

    @property
    def field_of_view(self) -> FieldOfView | None:
        """The score's field-of-view mask (None: the whole image is scored, as the reference)."""
        return FieldOfView.from_dict(self.config.get("field_of_view"))

    @property
    def threshold(self) -> float:
        """The run's decision threshold: chosen on validation when set, else mean + alpha * sd."""
        return self.stats.threshold() if self.chosen_threshold is None else self.chosen_threshold


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (the app's one atomic writer), creating folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, allow_nan=True) + "\n")


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        msg = f"{path}: not found; is {path.parent} a finished training run?"
        raise FileNotFoundError(msg) from None
    except json.JSONDecodeError as exc:
        msg = f"{path}: not valid JSON ({exc})"
        raise ValueError(msg) from None


def write_scores_csv(path: Path, rows: Iterable[Sequence[Any]]) -> None:
    """rows of (path, class, label, score)."""
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(SCORE_COLUMNS)
    for p, cls, label, score in rows:
        writer.writerow([str(p), cls, label, repr(float(score))])
    atomic_write_text(path, buf.getvalue())


def read_scores_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return [
            {"path": r["path"], "class": r["class"], "label": r["label"], "score": float(r["score"])}
            for r in csv.DictReader(fh)
        ]


def load_run(run_dir: str | Path) -> RunInfo:
    """Read a run folder (metrics only if evaluate has run)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        msg = f"run folder not found: {run_dir}"
        raise FileNotFoundError(msg)
    config = read_json(run_dir / RUN_FILE)
    thr = read_json(run_dir / THRESHOLD_FILE)
    history_path = run_dir / HISTORY_FILE
    metrics_path = run_dir / METRICS_FILE
    return RunInfo(
        run_dir=run_dir,
        config=config,
        stats=BenignStats.from_dict(thr["stats"]),
        heatmap_vmax=float(thr["heatmap_vmax"]),
        metrics=read_json(metrics_path) if metrics_path.exists() else None,
        history=read_json(history_path) if history_path.exists() else {},
        chosen_threshold=float(thr["threshold"]) if "validation_sensitivity_target" in thr else None,
        threshold_rule=str(thr.get("rule", ALPHA_RULE)),
    )


def record_threshold(
    run_dir: Path, threshold: float, validation_sensitivity_target: float | None = None,
    rule: str = ALPHA_RULE,
) -> None:
    """Set the run's decision threshold in threshold.json; the benign statistics stay.

    With ``validation_sensitivity_target`` the threshold was chosen on validation
    and ``rule`` says how (read back by :func:`load_run`); without, it is the
    mean + alpha * sd rule again.
    """
    path = Path(run_dir) / THRESHOLD_FILE
    record = read_json(path)
    for key in ("rule", "validation_sensitivity_target"):
        record.pop(key, None)
    record["threshold"] = threshold
    if validation_sensitivity_target is not None:
        record.update(rule=rule, validation_sensitivity_target=validation_sensitivity_target)
    write_json(path, record)


def preprocess_config(info: RunInfo) -> PreprocessConfig:
    """The preprocessing the run trained with (the app must use the same)."""
    return PreprocessConfig.from_dict(info.config["preprocess"])


def load_keras_model(run_dir: str | Path):  # -> keras.Model (TF imported lazily)
    """The trained model with its best weights, uncompiled (built-in layers; a VAE's Sampling layer)."""
    import keras

    import training.model  # noqa: F401  (registers the VAE's Sampling layer for loading)

    path = Path(run_dir) / MODEL_FILE
    if not path.exists():
        msg = f"{path}: no trained model in this run folder"
        raise FileNotFoundError(msg)
    return keras.models.load_model(path, compile=False)
