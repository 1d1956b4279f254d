"""The evaluation suite: one model file on every committed evaluation set (issue 13).

Sets (resources/splits, read by :mod:`desktop_app.core.evaluation.splits`):

* ``validation``: what chooses (``supervised-validation``: isic9, ham-extra and isic2017
  images no shipped model trained on); reported so a card shows what chose it;
* one evaluation set per site, never for choosing: ``ham-extra-eval`` (Vienna),
  ``isic9-test``, ``isic2017-eval`` (mostly New York), ``uda1-external`` (UDA-1 lesions
  not in isic9); ``pooled`` is them together and ``worst_site`` the lowest AUROC.

Every image goes through the app's own :class:`~desktop_app.core.inference.engine.Engine`
(decode, preprocessing, ONNX Runtime), so the figures are what users get. Per
set: AUROC, AP, sensitivity and specificity at the model's threshold (95%
stratified bootstrap CIs, :mod:`desktop_app.core.evaluation.metrics`), and the diagnosis
rows: each malignant class against nevi and against all benign lesions, each
other benign class against nevi (the benign-shift row: a benign kind the model
finds "anomalous" scores high there). With another model's scores (a model file
or an earlier suite JSON), the paired AUROC gain with its CI.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.labels import BENIGN_CLASSES, MALIGNANT_CLASSES
from desktop_app.core.evaluation.splits import (
    HAM_EVAL,
    ISIC9_TEST,
    ISIC2017_EVAL,
    SUPERVISED_VALIDATION,
    UDA1_EXTERNAL,
    split_samples,
)

VALIDATION = "validation"
POOLED = "pooled"
WORST_SITE = "worst_site"
# Set name -> the split files it is made of. Issue 27: validation is the three-site
# ``supervised-validation`` list (no shipped model trained on any of it), and each
# evaluation set is one site, so every figure is reported per site and as the worst site.
SUITE_SETS: dict[str, tuple[str, ...]] = {
    VALIDATION: (SUPERVISED_VALIDATION,),
    "ham-extra-eval": (HAM_EVAL,),
    "isic9-test": (ISIC9_TEST,),
    "isic2017-eval": (ISIC2017_EVAL,),
    "uda1-external": (UDA1_EXTERNAL,),
}
EVALUATION_SETS = ("ham-extra-eval", "isic9-test", "isic2017-eval", "uda1-external")
NEVUS = "nevus"
KERATOSES = ("seborrheic keratosis", "pigmented benign keratosis")
GOAL_SPECIFICITY = 0.50  # issue 13: sensitivity >= 90% at specificity >= 50%
GOAL_SPECIFICITY_II = 0.60  # issue 27: sensitivity >= 90% at specificity >= 60% pooled
CI_METHOD = "stratified percentile bootstrap (malignant and benign resampled separately)"

Scorer = Callable[[list[Path]], list[float | None]]


@dataclass
class ScoredSet:
    """One set's images with their labels, classes and scores (None: the file failed)."""

    name: str
    rel_paths: list[str]
    classes: list[str]
    malignant: np.ndarray
    scores: list[float | None]

    def ok(self) -> np.ndarray:
        return np.array([s is not None for s in self.scores], dtype=bool)


def suite_samples(
    data_root: Path, splits_dir: Path | None = None, sets: Sequence[str] | None = None,
    limit: int | None = None, seed: int = 0,
) -> dict[str, list[Sample]]:
    """The samples of each suite set; ``limit`` keeps a seeded subset per set (tests)."""
    out: dict[str, list[Sample]] = {}
    for name in sets or SUITE_SETS:
        chosen = [s for split in SUITE_SETS[name] for s in split_samples(split, data_root, splits_dir)]
        if limit is not None and limit < len(chosen):
            rng = np.random.default_rng(seed)
            # Keep both labels present: half the limit from each side where possible.
            mal = [i for i, s in enumerate(chosen) if s.is_malignant]
            ben = [i for i, s in enumerate(chosen) if not s.is_malignant]
            k = min(len(mal), limit // 2)
            keep = list(rng.choice(mal, k, replace=False)) + list(
                rng.choice(ben, min(len(ben), limit - k), replace=False)
            )
            chosen = [chosen[i] for i in sorted(int(i) for i in keep)]
        out[name] = chosen
    return out


def engine_scorer(model_path: Path, workers: int | None = None) -> tuple[Scorer, dict[str, Any]]:
    """A scorer running ``model_path`` through the app's Engine, and the model's description."""
    from desktop_app.core.inference.engine import Engine, inference_threads
    from desktop_app.core.model.model_file import load_model

    model = load_model(Path(model_path), intra_op_threads=inference_threads())
    engine = Engine(model, workers=workers)
    md = model.metadata

    def score(paths: list[Path]) -> list[float | None]:
        results = engine.analyze_all([str(p) for p in paths])
        return [float(r.score) if r.ok and r.score is not None else None for r in results]

    info = {
        "name": md.model_name,
        "version": md.model_version,
        "sha256": model.sha256,
        "file": str(model_path),
        "threshold": float(md.threshold),
        "benign_stats": md.benign_stats.to_dict(),
    }
    return score, info


def _ci(y: np.ndarray, s: np.ndarray, fn: metrics.Statistic, n: int, seed: int) -> dict[str, Any]:
    lo, hi = metrics.bootstrap_ci(y, s, fn, n_resamples=n, seed=seed)
    return {"value": float(fn(y, s)), "ci95": [lo, hi]}


def diagnosis_rows(
    classes: Sequence[str], scores: np.ndarray, n_resamples: int = 2000, seed: int = 0
) -> list[dict[str, Any]]:
    """AUROC (95% CI) of each malignant class vs nevi and vs all benign; each other benign class vs nevi.

    A row with fewer than :data:`~desktop_app.core.evaluation.metrics.MIN_PER_CLASS_FOR_CI` images on
    either side gets no interval (``ci95`` ``[None, None]``).
    """
    cls = np.asarray(classes)
    s = np.asarray(scores, dtype=np.float64)
    present = set(cls.tolist())
    benign = np.isin(cls, BENIGN_CLASSES)
    nevus = cls == NEVUS
    rows: list[dict[str, Any]] = []

    def row(name: str, kind: str, pos: np.ndarray, neg: np.ndarray) -> None:
        if not pos.any() or not neg.any():
            return
        keep = pos | neg
        y = pos[keep]
        if min(int(pos.sum()), int(neg.sum())) < metrics.MIN_PER_CLASS_FOR_CI:
            auroc = {"value": float(metrics.roc_auc(y, s[keep])), "ci95": [None, None]}
        else:
            auroc = _ci(y, s[keep], metrics.roc_auc, n_resamples, seed)
        rows.append({
            "row": name, "kind": kind, "n_positive": int(pos.sum()), "n_negative": int(neg.sum()),
            "auroc": auroc,
        })

    for c in MALIGNANT_CLASSES:
        if c in present:
            row(f"{c} vs nevus", "malignant vs nevi", cls == c, nevus)
            row(f"{c} vs all benign", "malignant vs benign", cls == c, benign)
    keratosis = np.isin(cls, KERATOSES)
    if "melanoma" in present:
        row("melanoma vs keratosis", "malignant vs keratoses", cls == "melanoma", keratosis)
    for c in BENIGN_CLASSES:
        if c != NEVUS and c in present:
            row(f"{c} vs nevus", "benign shift (lower is better)", cls == c, nevus)
    row("keratosis vs nevus", "benign shift (lower is better)", keratosis, nevus)
    return rows


def specificity_threshold(benign_scores: np.ndarray, target: float = GOAL_SPECIFICITY) -> float:
    """The highest-sensitivity threshold whose specificity on ``benign_scores`` is at least ``target``."""
    b = np.sort(np.asarray(benign_scores, dtype=np.float64))
    k = int(np.ceil(target * b.size - 1e-9))
    return float(b[max(k, 1) - 1])


def set_figures(
    y: np.ndarray, s: np.ndarray, classes: Sequence[str], threshold: float,
    goal_threshold: float | None, n_resamples: int, seed: int,
    goal_threshold_ii: float | None = None,
) -> dict[str, Any]:
    out = metrics.figures_with_ci(y, s, threshold, classes, n_resamples, seed)
    out["by_diagnosis"] = diagnosis_rows(classes, s, n_resamples, seed)
    for key, t in (("at_validation_specificity_50", goal_threshold),
                   ("at_validation_specificity_60", goal_threshold_ii)):
        if t is None:
            continue
        out[key] = {
            "threshold": t,
            "sensitivity": _ci(y, s, lambda a, v, t=t: metrics.sensitivity(a, metrics.predict(v, t)),
                               n_resamples, seed + 10),
            "specificity": _ci(y, s, lambda a, v, t=t: metrics.specificity(a, metrics.predict(v, t)),
                               n_resamples, seed + 11),
        }
    return out


def _arrays(sets: Sequence[ScoredSet]) -> tuple[list[str], np.ndarray, np.ndarray, list[str]]:
    paths: list[str] = []
    ys: list[bool] = []
    ss: list[float] = []
    classes: list[str] = []
    for st in sets:
        for p, c, m, v in zip(st.rel_paths, st.classes, st.malignant, st.scores, strict=True):
            if v is not None:
                paths.append(p)
                classes.append(c)
                ys.append(bool(m))
                ss.append(v)
    return paths, np.array(ys, dtype=bool), np.array(ss, dtype=np.float64), classes


def run_suite(
    scorer: Scorer,
    model_info: dict[str, Any],
    data_root: Path,
    *,
    other_scores: dict[str, float] | None = None,
    other_name: str = "",
    splits_dir: Path | None = None,
    sets: Sequence[str] | None = None,
    limit: int | None = None,
    n_resamples: int = 2000,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Score every set with ``scorer`` and compute the suite's figures.

    ``other_scores`` (rel_path -> score of another model on the same files) adds
    the paired AUROC gain of this model over it on each set and the pooled one.
    """
    say = progress or (lambda _m: None)
    samples = suite_samples(Path(data_root), splits_dir, sets, limit, seed)
    root = Path(data_root)
    scored: dict[str, ScoredSet] = {}
    for name, chosen in samples.items():
        say(f"scoring {name}: {len(chosen)} images")
        scores = scorer([s.path for s in chosen])
        scored[name] = ScoredSet(
            name, [s.path.relative_to(root).as_posix() for s in chosen], [s.cls for s in chosen],
            np.array([s.is_malignant for s in chosen], dtype=bool), scores,
        )
    threshold = float(model_info["threshold"])
    goal_t = goal_t2 = None
    if VALIDATION in scored:
        _, vy, vs, _ = _arrays([scored[VALIDATION]])
        if (~vy).any():
            goal_t = specificity_threshold(vs[~vy])
            goal_t2 = specificity_threshold(vs[~vy], GOAL_SPECIFICITY_II)
    report: dict[str, Any] = {
        "model": model_info, "data_root": str(root), "threshold": threshold,
        "validation_specificity_50_threshold": goal_t,
        "validation_specificity_60_threshold": goal_t2,
        "ci_method": CI_METHOD, "bootstrap_resamples": n_resamples, "bootstrap_seed": seed,
        "limit_per_set": limit, "sets": {}, "compared_to": other_name or None,
    }
    groups: dict[str, list[ScoredSet]] = {n: [st] for n, st in scored.items()}
    pooled = [scored[n] for n in EVALUATION_SETS if n in scored]
    if len(pooled) > 1:
        groups[POOLED] = pooled
    for name, members in groups.items():
        paths, y, s, classes = _arrays(members)
        n_files = sum(len(m.scores) for m in members)
        entry: dict[str, Any] = {"n_files": n_files, "n_errors": n_files - len(paths)}
        if y.any() and (~y).any():
            say(f"figures for {name}")
            entry.update(set_figures(y, s, classes, threshold, goal_t, n_resamples, seed, goal_t2))
            if other_scores is not None:
                entry["paired_auroc_gain"] = _paired(paths, y, s, other_scores, n_resamples, seed)
        else:
            entry["note"] = "needs both benign and malignant images that could be analysed"
        report["sets"][name] = entry
    report[WORST_SITE] = worst_site(report["sets"])
    report["scores"] = {
        p: v for st in scored.values() for p, v in zip(st.rel_paths, st.scores, strict=True)
    }
    return report


def _paired(
    paths: list[str], y: np.ndarray, s: np.ndarray, other: dict[str, float], n: int, seed: int
) -> dict[str, Any]:
    have = np.array([p in other and other[p] is not None for p in paths], dtype=bool)
    if not have.any():
        return {"note": "the other model has no scores for these images"}
    o = np.array([other[p] if h else np.nan for p, h in zip(paths, have, strict=True)], dtype=np.float64)
    out = metrics.paired_auroc_difference(y[have], s[have], o[have], n, seed)
    out["n"] = int(have.sum())
    return out


def worst_site(sets: dict[str, Any]) -> dict[str, Any]:
    """The evaluation set with the lowest AUROC (and the lowest paired gain, when paired).

    Pooled figures hide a site at chance; this is the row a site that was never seen is
    most like.
    """
    rated = {n: e for n, e in sets.items() if n in EVALUATION_SETS and "auroc" in e}
    if not rated:
        return {}
    name = min(rated, key=lambda n: rated[n]["auroc"]["value"])
    out: dict[str, Any] = {"set": name, "auroc": rated[name]["auroc"]}
    gains = {n: e["paired_auroc_gain"] for n, e in rated.items()
             if "value" in e.get("paired_auroc_gain", {})}
    if gains:
        g = min(gains, key=lambda n: gains[n]["value"])
        out["lowest_gain"] = {"set": g, **gains[g]}
    return out


def scores_from_report(path: Path) -> dict[str, float]:
    """The per-image scores of an earlier suite run's JSON (to pair without re-scoring)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if "scores" not in data:
        msg = f"{path}: not an evaluation-suite JSON (no 'scores')"
        raise ValueError(msg)
    return {k: float(v) for k, v in data["scores"].items() if v is not None}


def _fmt(d: dict[str, Any], pct: bool = False) -> str:
    f = (lambda v: f"{100 * v:.1f}") if pct else (lambda v: f"{v:.3f}")
    lo, hi = d["ci95"]
    if lo is None or hi is None:
        return f"{f(d['value'])} (no CI: too few)"
    return f"{f(d['value'])} [{f(lo)}, {f(hi)}]"


def _ordered(sets: dict[str, Any]) -> list[str]:
    """Set names in the suite's order (a JSON round trip may have sorted them)."""
    known = [*SUITE_SETS, POOLED]
    return [n for n in known if n in sets] + sorted(n for n in sets if n not in known)


def format_suite(report: dict[str, Any]) -> str:
    """The suite as Markdown tables (what model cards and ACCURACY.md quote)."""
    m = report["model"]
    report = {**report, "sets": {n: report["sets"][n] for n in _ordered(report["sets"])}}
    lines = [
        f"Evaluation suite: {m['name']} {m['version']} ({m['sha256'][:12]}), threshold "
        f"{report['threshold']:.5g}; data {report['data_root']}",
        "",
        "| Set | n (mal/ben) | AUROC | AP | Sensitivity % | Specificity % | Gain vs "
        + (report["compared_to"] or "-") + " |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, e in report["sets"].items():
        if "auroc" not in e:
            lines.append(f"| {name} | {e['n_files']} | {e.get('note', '')} | | | | |")
            continue
        gain = e.get("paired_auroc_gain")
        gain_txt = _fmt(gain) if gain and "value" in gain else "-"
        lines.append(
            f"| {name} | {e['n']} ({e['n_malignant']}/{e['n_benign']}) | {_fmt(e['auroc'])} | "
            f"{_fmt(e['average_precision'])} | {_fmt(e['sensitivity'], True)} | "
            f"{_fmt(e['specificity'], True)} | {gain_txt} |"
        )
    worst = report.get(WORST_SITE) or {}
    if worst:
        lines += ["", f"Worst site: {worst['set']}, AUROC {_fmt(worst['auroc'])}"
                  + (f"; lowest paired gain {worst['lowest_gain']['set']} "
                     f"{_fmt(worst['lowest_gain'])}" if "lowest_gain" in worst else "")]
    for pct in (50, 60):
        goal = report.get(f"validation_specificity_{pct}_threshold")
        if goal is None:
            continue
        lines += ["", f"At the validation-chosen threshold for {pct}% specificity (T = {goal:.5g}):",
                  "", "| Set | Sensitivity % | Specificity % |", "|---|---|---|"]
        for name, e in report["sets"].items():
            if f"at_validation_specificity_{pct}" in e:
                g = e[f"at_validation_specificity_{pct}"]
                lines.append(f"| {name} | {_fmt(g['sensitivity'], True)} | {_fmt(g['specificity'], True)} |")
    lines += ["", "Diagnosis rows (AUROC [95% CI]; benign-shift rows: lower is better):", ""]
    names = list(report["sets"])
    lines.append("| Row | " + " | ".join(names) + " |")
    lines.append("|---" * (len(names) + 1) + "|")
    row_names: list[str] = []
    for e in report["sets"].values():
        for r in e.get("by_diagnosis", []):
            if r["row"] not in row_names:
                row_names.append(r["row"])
    for rn in row_names:
        cells = []
        for n in names:
            match = [r for r in report["sets"][n].get("by_diagnosis", []) if r["row"] == rn]
            cells.append(f"{_fmt(match[0]['auroc'])} ({match[0]['n_positive']})" if match else "")
        lines.append(f"| {rn} | " + " | ".join(cells) + " |")
    lines += ["", f"CIs: {report['ci_method']}, {report['bootstrap_resamples']} resamples; "
              "(n) = images of the row's class. Sensitivity/specificity at the model's threshold."]
    return "\n".join(lines) + "\n"
