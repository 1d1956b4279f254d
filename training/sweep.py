"""`dermscreen-train sweep`: the report's loss-weight grid crossed with hair removal on/off."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from training.run import atomic_write_text, write_json

Progress = Callable[[str], None]
WEIGHT_GRID: tuple[tuple[float, float], ...] = ((0.2, 0.8), (0.4, 0.6), (0.6, 0.4), (0.8, 0.2))
HAIR_OPTIONS: tuple[bool, ...] = (True, False)


def run_name(w_mse: float, w_ssim: float, hair_removal: bool) -> str:
    return f"mse{w_mse:g}_ssim{w_ssim:g}_hair-{'on' if hair_removal else 'off'}"


def _row(name: str, w_mse: float, w_ssim: float, hair: bool, info, metrics: dict) -> dict[str, Any]:
    test = metrics["test"]
    hist = info.history
    best = int(hist.get("best_epoch", 0))
    return {
        "run": name,
        "w_mse": w_mse,
        "w_ssim": w_ssim,
        "hair_removal": hair,
        "epochs": len(hist.get("loss", [])),
        "best_epoch": best,
        "best_val_loss": hist["val_loss"][best - 1] if best else None,
        "threshold": metrics["threshold"],
        "sensitivity": test["sensitivity"],
        "specificity": test["specificity"],
        "balanced_accuracy": test["balanced_accuracy"],
        "auroc": test["auroc"],
        "average_precision": test["average_precision"],
        "seconds_per_epoch": info.config["timing"]["epoch_seconds_mean"],
    }


def _fmt(entry: dict[str, Any]) -> str:
    lo, hi = entry["ci95"]
    return f"{entry['value']:.3f} [{lo:.3f}, {hi:.3f}]"


def to_markdown(rows: list[dict[str, Any]], note: str) -> str:
    """One table: a row per configuration, Test figures with 95% CIs."""
    lines = [
        "# Loss-weight x hair-removal sweep",
        "",
        note,
        "",
        "| w_mse | w_ssim | hair removal | epochs (best) | T | sensitivity | specificity "
        "| balanced acc. | AUROC | AP |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['w_mse']:g} | {r['w_ssim']:g} | {'on' if r['hair_removal'] else 'off'} "
            f"| {r['epochs']} ({r['best_epoch']}) | {r['threshold']:.4f} | {_fmt(r['sensitivity'])} "
            f"| {_fmt(r['specificity'])} | {_fmt(r['balanced_accuracy'])} | {_fmt(r['auroc'])} "
            f"| {_fmt(r['average_precision'])} |"
        )
    return "\n".join(lines) + "\n"


def sweep(
    data_dir: str | Path,
    out_dir: str | Path,
    epochs: int = 50,
    batch_size: int = 32,
    limit: int | None = None,
    seed: int = 42,
    n_resamples: int = 2000,
    grid: Sequence[tuple[float, float]] = WEIGHT_GRID,
    hair_options: Sequence[bool] = HAIR_OPTIONS,
    val_fraction: float = 0.15,
    progress: Progress = print,
) -> list[dict[str, Any]]:
    """Fit and evaluate every configuration; write sweep.json and sweep.md in ``out_dir``.

    Each configuration's threshold comes from its own validation scores (the
    score's scale changes with the weights), so AUROC/AP compare them fairly;
    sensitivity/specificity compare the operating points alpha gives.
    """
    from training.evaluate import evaluate
    from training.fit import FitConfig, fit

    out = Path(out_dir)
    rows: list[dict[str, Any]] = []
    note = (
        f"Data {data_dir}; {epochs} epochs, batch {batch_size}, seed {seed}, "
        f"{'all benign Train images' if limit is None else f'at most {limit} benign images'}; "
        f"Test figures with 95% stratified percentile bootstrap CIs ({n_resamples} resamples)."
    )
    for hair in hair_options:
        for w_mse, w_ssim in grid:
            name = run_name(w_mse, w_ssim, hair)
            progress(f"== sweep {name}")
            cfg = FitConfig(
                data_dir=Path(data_dir),
                out_dir=out / name,
                w_mse=w_mse,
                w_ssim=w_ssim,
                hair_removal=hair,
                epochs=epochs,
                batch_size=batch_size,
                seed=seed,
                limit=limit,
                val_fraction=val_fraction,
            )
            info = fit(cfg, progress=progress)
            metrics = evaluate(out / name, data_dir, n_resamples=n_resamples, progress=progress)
            rows.append(_row(name, w_mse, w_ssim, hair, info, metrics))
            # Rewritten after each run so a cut-short sweep still leaves its table.
            write_json(out / "sweep.json", {"note": note, "rows": rows})
            atomic_write_text(out / "sweep.md", to_markdown(rows, note))
    return rows
