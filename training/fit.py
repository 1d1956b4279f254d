"""`dermscreen-train fit`: train the CAE on benign Train images, then set the threshold."""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.files import utc_now_iso
from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import REFERENCE_WINDOW, SsimWindow
from training.cache import cache_root, load_tensors
from training.data import Audit, Sample, audit_dataset, split_benign
from training.fit_config import FitConfig
from training.fov import FieldOfView
from training.run import (
    HISTORY_FILE,
    METRICS_FILE,
    MODEL_FILE,
    RUN_FILE,
    THRESHOLD_FILE,
    RunInfo,
    load_run,
    write_json,
    write_scores_csv,
)

Progress = Callable[[str], None]


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def current_rss_mb() -> float:
    try:
        import psutil

        return psutil.Process().memory_info().rss / 2**20
    except ImportError:  # psutil is in the train extra; peak RSS still works without it
        return float("nan")


def select_benign(audit: Audit, cfg: FitConfig) -> tuple[list[Sample], list[Sample]]:
    """Benign Train images after the audit, optionally limited, split into (train, val)."""
    benign = audit.benign_train()
    if cfg.limit is not None and cfg.limit < len(benign):
        order = np.random.default_rng(cfg.seed).permutation(len(benign))[: cfg.limit]
        benign = [benign[i] for i in sorted(int(i) for i in order)]
    train, val = split_benign(benign, val_fraction=cfg.val_fraction, seed=cfg.seed)
    if cfg.extra_benign is not None:
        extra_train, extra_val = extra_benign_samples(audit, Path(cfg.extra_benign), cfg)
        train, val = train + extra_train, val + extra_val
    return train, val


def select_known_anomalies(audit: Audit, cfg: FitConfig) -> tuple[list[Sample], list[Sample]]:
    """(trained-on, held-out) Train malignant images of a semi-supervised run; ([], []) otherwise.

    Class-stratified and seeded like the benign split; ``--limit`` caps them too.
    """
    if cfg.known_anomalies is None:
        return [], []
    malignant = audit.malignant_train()
    if cfg.limit is not None and cfg.limit < len(malignant):
        order = np.random.default_rng(cfg.seed).permutation(len(malignant))[: cfg.limit]
        malignant = [malignant[i] for i in sorted(int(i) for i in order)]
    held_out = 1.0 - cfg.known_anomalies
    return split_benign(malignant, val_fraction=held_out, seed=cfg.seed, label="malignant")


def extra_benign_samples(
    audit: Audit, data_root: Path, cfg: FitConfig
) -> tuple[list[Sample], list[Sample]]:
    """The ham-extra nevi of the committed train / validation splits, hashed into ``audit.sha``.

    The lists are lesion-disjoint from each other and from the development
    evaluation split; ``--limit`` takes the same share of them as of isic9.
    """
    from desktop_app.core.evaluation.splits import HAM_TRAIN, HAM_VALIDATION, split_samples
    from desktop_app.core.imaging.imageio import file_sha256

    def chosen(name: str) -> list[Sample]:
        samples = [s for s in split_samples(name, data_root, split="Train") if s.label == "benign"]
        if cfg.limit is not None and cfg.limit < len(samples):
            order = np.random.default_rng(cfg.seed).permutation(len(samples))[: cfg.limit]
            samples = [samples[i] for i in sorted(int(i) for i in order)]
        return samples

    train, val = chosen(HAM_TRAIN), chosen(HAM_VALIDATION)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=4) as pool:
        paths = [s.path for s in train + val]
        audit.sha.update(zip(paths, pool.map(file_sha256, paths), strict=True))
    return train, val


def _file_list(samples: list[Sample], audit: Audit) -> list[dict[str, str]]:
    return [{"path": str(s.path), "class": s.cls, "sha256": audit.sha[s.path]} for s in samples]


def _make_callbacks(
    epochs: int, progress: Progress, timing: dict[str, list[float]], out: Path,
    patience: int | None = None, max_minutes: float | None = None,
):
    import keras

    class EpochReport(keras.callbacks.Callback):
        """Prints one line per epoch and records its seconds and memory."""

        def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
            self._t0 = time.perf_counter()

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            logs = logs or {}
            secs = time.perf_counter() - self._t0
            timing["epoch_seconds"].append(secs)
            timing["rss_mb"].append(current_rss_mb())
            timing["peak_rss_mb"].append(peak_rss_mb())
            for key, value in logs.items():
                timing.setdefault(f"live_{key}", []).append(float(value))
            # Written every epoch so a long run can be followed (and judged if cut short).
            write_json(out / "progress.json", {"epochs_done": epoch + 1, "epochs": epochs, **timing})
            progress(
                f"epoch {epoch + 1}/{epochs}  loss {logs.get('loss', float('nan')):.5f}  "
                f"val_loss {logs.get('val_loss', float('nan')):.5f}  {secs:.1f} s  "
                f"peak RSS {peak_rss_mb():.0f} MB"
            )

    class KeepBest(keras.callbacks.Callback):
        """Keeps the weights of the epoch with the lowest validation loss, restores them at the end."""

        def __init__(self) -> None:
            super().__init__()
            self.best = float("inf")
            self.best_epoch = -1
            self.weights: list[np.ndarray] | None = None
            self.stopped = ""

        def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
            val = float((logs or {}).get("val_loss", float("inf")))
            if val < self.best:
                self.best, self.best_epoch = val, epoch
                self.weights = [w.copy() for w in self.model.get_weights()]

            stale = epoch - self.best_epoch
            spent = sum(timing["epoch_seconds"]) / 60.0
            if patience is not None and stale >= patience:
                self.stopped = f"no lower val_loss for {stale} epochs (patience {patience})"
            elif max_minutes is not None and spent >= max_minutes and epoch + 1 < epochs:
                self.stopped = f"training time {spent:.1f} min reached the {max_minutes:g} min budget"
            if self.stopped:
                progress(f"stopping after epoch {epoch + 1}: {self.stopped}")
                self.model.stop_training = True

        def on_train_end(self, logs: dict | None = None) -> None:
            if self.weights is not None:
                self.model.set_weights(self.weights)

    return EpochReport(), KeepBest()


def write_threshold(
    out: Path,
    model: Any,
    train: list[Sample],
    val: list[Sample],
    x_train: np.ndarray,
    x_val: np.ndarray,
    w_mse: float,
    w_ssim: float,
    alpha: float,
    progress: Progress = print,
    window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> None:
    """Score the benign train and validation images; the threshold comes from validation only."""
    from training.threshold import benign_threshold, heatmap_vmax, score_images

    train_scores = score_images(model, x_train, w_mse, w_ssim, window=window, fov=fov)
    val_scores = score_images(model, x_val, w_mse, w_ssim, window=window, fov=fov)
    stats = benign_threshold(val_scores, alpha)
    vmax = heatmap_vmax(model, x_val, w_mse, w_ssim, window=window, fov=fov)
    progress(
        f"threshold T = {stats.threshold():.5f} (mean {stats.mean:.5f} + {alpha} x sd "
        f"{stats.sd:.5f}, {stats.n} validation images); heatmap_vmax {vmax:.4f}"
    )
    write_scores_csv(
        out / "scores_train.csv",
        [(s.path, s.cls, s.label, v) for s, v in zip(train, train_scores, strict=True)],
    )
    write_scores_csv(
        out / "scores_val.csv",
        [(s.path, s.cls, s.label, v) for s, v in zip(val, val_scores, strict=True)],
    )
    write_json(
        out / THRESHOLD_FILE,
        {
            "stats": stats.to_dict(),
            "alpha": stats.alpha,
            "threshold": stats.threshold(),
            "heatmap_vmax": vmax,
            "source": "benign validation images (held out from training)",
        },
    )


def rescore(
    run_dir: Path, progress: Progress = print, window: SsimWindow | None = None,
    fov: FieldOfView | None = None, change_fov: bool = False,
) -> RunInfo:
    """Recompute a trained run's scores, threshold and heatmap scale without retraining.

    For when the score's arithmetic changed: the same train/validation files,
    read back from run.json with their sha256. ``window`` re-scores with
    another SSIM window (the model is unchanged); run.json then records it and
    keeps the window the model trained with as ``loss_ssim_window``. With
    ``change_fov`` the score is taken inside ``fov`` (None: the whole image).
    """
    from desktop_app.core.evaluation.labels import label_of
    from training.run import load_keras_model

    run_dir = Path(run_dir)
    info = load_run(run_dir)
    pre = PreprocessConfig.from_dict(info.config["preprocess"])

    def samples(key: str) -> tuple[list[Sample], dict[Path, str]]:
        rows = info.config[key]
        chosen = [Sample(Path(r["path"]), "Train", r["class"], label_of(r["class"])) for r in rows]
        return chosen, {Path(r["path"]): r["sha256"] for r in rows}

    train, train_sha = samples("train_files")
    val, val_sha = samples("val_files")
    x_train = load_tensors([s.path for s in train], pre, train_sha, progress)
    x_val = load_tensors([s.path for s in val], pre, val_sha, progress)
    weights = info.loss_weights
    if window is not None and window != info.ssim_window:
        config = dict(info.config)
        config.setdefault("loss_ssim_window", info.loss_ssim_window.to_dict())
        config["ssim_window"] = window.to_dict()
        write_json(run_dir / RUN_FILE, config)
        # Figures of the old score would now be stale.
        (run_dir / METRICS_FILE).unlink(missing_ok=True)
        progress(f"re-scoring with {window.describe()} (trained with {info.loss_ssim_window.describe()})")
        info = load_run(run_dir)
    if change_fov and fov != info.field_of_view:
        config = dict(info.config)
        config["field_of_view"] = None if fov is None else fov.to_dict()
        write_json(run_dir / RUN_FILE, config)
        (run_dir / METRICS_FILE).unlink(missing_ok=True)
        progress("re-scoring " + ("the whole image" if fov is None else f"with a {fov.describe()}"))
        info = load_run(run_dir)
    write_threshold(
        run_dir, load_keras_model(run_dir), train, val, x_train, x_val,
        weights["mse"], weights["ssim"], float(info.config["alpha"]), progress,
        window=info.ssim_window, fov=info.field_of_view,
    )
    return load_run(run_dir)


def fit(cfg: FitConfig, progress: Progress = print) -> RunInfo:
    """Audit, split, preprocess (cached), train, score train/val, set the threshold, save."""
    import keras
    import tensorflow as tf

    from training.losses import hybrid_loss, known_anomaly_loss, with_anomaly_flags
    from training.model import build_cae, build_vae
    cfg.validate()
    started = time.perf_counter()
    out = Path(cfg.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(cfg.seed)
    tf.config.experimental.enable_op_determinism()

    progress(f"auditing {cfg.data_dir}")
    audit = audit_dataset(cfg.data_dir)
    train, val = select_benign(audit, cfg)
    if len(train) < 2 or len(val) < 2:
        msg = f"{cfg.data_dir}: too few benign images ({len(train)} train, {len(val)} validation)"
        raise ValueError(msg)
    progress(f"benign images: {len(train)} train, {len(val)} validation (held out)")
    mal_train, mal_val = select_known_anomalies(audit, cfg)
    if cfg.known_anomalies is not None:
        if len(mal_train) < 1 or len(mal_val) < 1:
            msg = f"{cfg.data_dir}: too few Train malignant images for --known-anomalies"
            raise ValueError(msg)
        progress(f"known anomalies (Train malignant): {len(mal_train)} train, "
                 f"{len(mal_val)} held out for validation")

    pre = PreprocessConfig(hair_removal=cfg.hair_removal, colour_constancy=cfg.colour_constancy,
                           hair_work_max_side=cfg.hair_work_side)
    fov = FieldOfView() if cfg.fov_loss else None
    t0 = time.perf_counter()
    x_train = load_tensors([s.path for s in train], pre, audit.sha, progress)
    x_val = load_tensors([s.path for s in val], pre, audit.sha, progress)
    preprocess_s = time.perf_counter() - t0
    progress(f"preprocessing took {preprocess_s:.1f} s (cache {cache_root()})")

    model = (build_vae(size=pre.size, kl_weight=cfg.kl_weight) if cfg.variational
             else build_cae(size=pre.size))
    if cfg.known_anomalies is None:
        loss = hybrid_loss(cfg.w_mse, cfg.w_ssim, cfg.ssim_window, fov=fov)
    else:
        loss = known_anomaly_loss(cfg.w_mse, cfg.w_ssim, cfg.ssim_window,
                                  cfg.anomaly_margin, cfg.anomaly_weight)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=cfg.learning_rate), loss=loss)
    timing: dict[str, list[float]] = {"epoch_seconds": [], "rss_mb": [], "peak_rss_mb": []}
    report, keep_best = _make_callbacks(
        cfg.epochs, progress, timing, out, cfg.patience, cfg.max_minutes
    )
    if cfg.augment:
        from training.augment import augmented_dataset, steps_per_epoch

        inputs: dict[str, Any] = {
            "x": augmented_dataset(x_train, cfg.batch_size, cfg.seed, cfg.epochs),
            "steps_per_epoch": steps_per_epoch(len(x_train), cfg.batch_size),
            "shuffle": False,  # the dataset shuffles itself (Keras warns and ignores True)
        }
    elif cfg.known_anomalies is not None:
        x_mal = load_tensors([s.path for s in mal_train], pre, audit.sha, progress)
        x_mal_val = load_tensors([s.path for s in mal_val], pre, audit.sha, progress)
        x_fit = np.concatenate([x_train, x_mal])
        flags = np.r_[np.zeros(len(x_train)), np.ones(len(x_mal))]
        inputs = {"x": x_fit, "y": with_anomaly_flags(x_fit, flags),
                  "batch_size": cfg.batch_size, "shuffle": True}
        x_check = np.concatenate([x_val, x_mal_val])
        check_flags = np.r_[np.zeros(len(x_val)), np.ones(len(x_mal_val))]
        validation = (x_check, with_anomaly_flags(x_check, check_flags))
    else:
        inputs = {"x": x_train, "y": x_train, "batch_size": cfg.batch_size, "shuffle": True}
    if cfg.known_anomalies is None:
        validation = (x_val, x_val)
    hist = model.fit(
        **inputs,
        validation_data=validation,
        epochs=cfg.epochs,
        verbose=0,
        callbacks=[report, keep_best],
    )
    history: dict[str, Any] = {k: [float(v) for v in vals] for k, vals in hist.history.items()}
    history.update({k: v for k, v in timing.items() if not k.startswith("live_")})
    history["best_epoch"] = keep_best.best_epoch + 1
    history["stopped_early"] = keep_best.stopped
    progress(f"best epoch {keep_best.best_epoch + 1} (val_loss {keep_best.best:.5f})")

    write_threshold(
        out, model, train, val, x_train, x_val, cfg.w_mse, cfg.w_ssim, cfg.alpha, progress,
        window=cfg.ssim_window, fov=fov,
    )
    tmp_model = out / ".model.partial.keras"
    model.save(tmp_model)
    tmp_model.replace(out / MODEL_FILE)
    write_json(out / HISTORY_FILE, history)
    epoch_s = timing["epoch_seconds"]
    options = asdict(cfg)
    options["data_dir"], options["out_dir"] = str(cfg.data_dir), str(cfg.out_dir)
    options["extra_benign"] = None if cfg.extra_benign is None else str(cfg.extra_benign)
    config = {
        "created": utc_now_iso(),
        "preprocess": pre.to_dict(),
        "loss_weights": {"mse": cfg.w_mse, "ssim": cfg.w_ssim},
        "ssim_window": cfg.ssim_window.to_dict(),
        "field_of_view": None if fov is None else fov.to_dict(),
        "augment": cfg.augment,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "batch_size": cfg.batch_size,
        "alpha": cfg.alpha,
        "val_fraction": cfg.val_fraction,
        "limit": cfg.limit,
        "extra_benign": None if cfg.extra_benign is None else str(cfg.extra_benign),
        "n_train": len(train),
        "n_val": len(val),
        "patience": cfg.patience,
        "max_minutes": cfg.max_minutes,
        "variational": cfg.variational,
        "kl_weight": cfg.kl_weight,
        "known_anomalies": None if cfg.known_anomalies is None else {
            "share": cfg.known_anomalies,
            "margin": cfg.anomaly_margin,
            "weight": cfg.anomaly_weight,
            "rule": "training.losses.known_anomaly_loss: benign score + weight * max(0, margin "
                    "- score) on labelled Train malignant images",
            "train_files": _file_list(mal_train, audit),
            "val_files": _file_list(mal_val, audit),
        },
        "learning_rate": cfg.learning_rate,
        "optimizer": "Adam",
        "data_dir": str(cfg.data_dir),
        "data_hash": audit.data_hash(train + val),
        "audit": audit.summary(),
        "train_files": _file_list(train, audit),
        "val_files": _file_list(val, audit),
        "options": options,
        "timing": {
            "preprocess_seconds": preprocess_s,
            "epoch_seconds_mean": float(np.mean(epoch_s)),
            "epoch_seconds_median": float(np.median(epoch_s)),
            "epochs_done": len(epoch_s),
            "total_seconds": time.perf_counter() - started,
            "peak_rss_mb": peak_rss_mb(),
        },
    }
    write_json(out / RUN_FILE, config)
    progress(
        f"saved {out}: {len(epoch_s)} epochs, {np.mean(epoch_s):.1f} s/epoch mean, "
        f"peak RSS {peak_rss_mb():.0f} MB"
    )
    return load_run(out)
