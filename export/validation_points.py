"""`python -m export.validation_points MODEL.onnx --data SHARED_DATA`: missing validation points into a model.

A model exported before the 95% validation point existed
(:data:`desktop_app.core.evaluation.metrics.VALIDATION_SENSITIVITY_TARGETS`) has no
borderline band in the app. This step adds the missing points without the
Keras run: it scores the validation cancers (the malignant images of the
committed ``isic9-validation`` split: the audited Train malignant images, never
trained on) and the isic9 Test images through the app's own engine, takes the
benign validation scores stored in the metadata, and FIRST re-derives every
stored validation point; unless each re-derived threshold equals the stored
one (relative tolerance ``--rtol``) and gives the same Test figures, nothing is
written. Only the metadata changes (as in :mod:`export.suite`): the graph that
passed the export's parity gate is written as it was, with a new ``.sha256``
sidecar and card.
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.errors import DermScreenError
from desktop_app.core.base.files import utc_now_iso
from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.splits import ISIC9_TEST, ISIC9_VALIDATION, split_samples
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.model.metadata import ModelMetadata

RTOL = 1e-5  # ONNX Runtime vs Keras scores differ by ~1e-7 on scores ~0.1 (the parity gate)
LABEL = re.compile(r"^validation sensitivity (\d+)%$")
COMMAND = "python -m export.validation_points MODEL.onnx --data SHARED_DATA"

Scorer = Callable[[list[Path]], list[float | None]]
Progress = Callable[[str], None]


class PointsMismatchError(ValueError):
    """The engine's scores do not reproduce the validation points stored in the model."""


@dataclass(frozen=True)
class ScoredImages:
    """The images behind the points, scored by the app's engine."""

    val_malignant: np.ndarray  # scores of the validation cancers
    test_malignant: np.ndarray  # bool per Test image
    test_scores: np.ndarray
    test_classes: list[str]


def target_of(point: dict[str, Any]) -> float | None:
    """0.8 for the "validation sensitivity 80%" point; None for any other point."""
    match = LABEL.match(str(point.get("label", "")))
    return int(match.group(1)) / 100 if match else None


def by_target(points: Sequence[dict[str, Any]]) -> dict[float, dict[str, Any]]:
    """The validation points among ``points``, by target."""
    return {t: p for p in points if (t := target_of(p)) is not None}


def stored_targets(md: ModelMetadata) -> dict[float, dict[str, Any]]:
    """The model's stored validation points by target."""
    return by_target(md.operating_points)


def score_images(scorer: Scorer, data_root: Path, splits_dir: Path | None = None,
                 progress: Progress = print) -> ScoredImages:
    """Score the validation cancers and the isic9 Test images; a file that fails raises."""
    val = [s for s in split_samples(ISIC9_VALIDATION, data_root, splits_dir) if s.is_malignant]
    test = split_samples(ISIC9_TEST, data_root, splits_dir)
    if not val or not test:
        msg = f"{data_root}: no validation cancers ({len(val)}) or no Test images ({len(test)})"
        raise ValueError(msg)

    def run(samples: list[Sample], what: str) -> np.ndarray:
        progress(f"scoring {len(samples)} {what} through the app's engine")
        scores = scorer([s.path for s in samples])
        failed = [str(s.path) for s, v in zip(samples, scores, strict=True) if v is None]
        if failed:
            msg = f"{len(failed)} {what} could not be scored (first: {failed[0]})"
            raise ValueError(msg)
        return np.asarray(scores, dtype=np.float64)

    val_scores = run(val, "validation cancers")
    test_scores = run(test, "isic9 Test images")
    return ScoredImages(val_scores, np.array([s.is_malignant for s in test]), test_scores,
                        [s.cls for s in test])


def _same(a: Any, b: Any, rtol: float) -> bool:
    try:
        x, y = float(a), float(b)
    except (TypeError, ValueError):
        return False
    return math.isclose(x, y, rel_tol=rtol, abs_tol=0.0)


def check_stored(md: ModelMetadata, fresh: dict[float, dict[str, Any]], rtol: float = RTOL
                 ) -> list[dict[str, Any]]:
    """Compare each stored validation point with the one re-derived from the engine's scores.

    Raises :class:`PointsMismatchError` naming every point whose threshold differs by
    more than ``rtol`` (relative) or whose validation or Test figures differ.
    """
    stored = stored_targets(md)
    if not stored:
        msg = "the model stores no validation points to check the engine's scores against"
        raise PointsMismatchError(msg)
    checked, wrong = [], []
    for target, old in sorted(stored.items()):
        new = fresh.get(target)
        if new is None:
            wrong.append(f"{old['label']}: not re-derived")
            continue
        row = {"target": target, "stored": float(old["threshold"]),
               "rederived": float(new["threshold"])}
        row["relative_gap"] = abs(row["rederived"] - row["stored"]) / max(abs(row["stored"]), 1e-300)
        checked.append(row)
        if not _same(old["threshold"], new["threshold"], rtol):
            wrong.append(f"{old['label']}: stored threshold {row['stored']:.8g}, "
                         f"re-derived {row['rederived']:.8g} (rtol {rtol:g})")
            continue
        for key in ("val_sensitivity", "val_specificity", "test_sensitivity", "test_specificity"):
            if old.get(key) is not None and not _same(old[key], new.get(key), 1e-9):
                wrong.append(f"{old['label']}: stored {key} {old[key]}, re-derived {new.get(key)}")
    if wrong:
        msg = ("the engine's scores do not reproduce the stored validation points, nothing "
               "written: " + "; ".join(wrong))
        raise PointsMismatchError(msg)
    return checked


def _chosen_entry(md: ModelMetadata, point: dict[str, Any], target: float,
                  images: ScoredImages) -> dict[str, Any]:
    """The evaluation's ``validation_chosen`` row, as training writes it (Test CIs included)."""
    ev = md.evaluation if isinstance(md.evaluation, dict) else {}
    thr = float(point["threshold"])
    return {
        "target_val_sensitivity": target,
        "threshold": thr,
        "alpha_equivalent": md.benign_stats.alpha_for(thr),
        "val_sensitivity": point["val_sensitivity"],
        "val_specificity": point["val_specificity"],
        "test": metrics.figures_with_ci(images.test_malignant, images.test_scores, thr,
                                        images.test_classes,
                                        int(ev.get("bootstrap_resamples", 2000)),
                                        int(ev.get("bootstrap_seed", 0))),
    }


def with_points(md: ModelMetadata, images: ScoredImages, rtol: float = RTOL,
                targets: Sequence[float] = metrics.VALIDATION_SENSITIVITY_TARGETS
                ) -> tuple[ModelMetadata, dict[str, Any]]:
    """``md`` with its validation points checked and the missing ``targets`` added.

    The new points come from :func:`desktop_app.core.evaluation.metrics.operating_points`
    (the format training stores, roles included) and follow the stored
    validation points; the stored ones gain their role (90%: "screening").
    """
    stored = stored_targets(md)
    fresh = by_target(metrics.operating_points(
        md.benign_stats, images.test_malignant, images.test_scores, alphas=(),
        sensitivity_targets=(), val_malignant_scores=images.val_malignant,
        validation_targets=sorted({*targets, *stored})))
    checked = check_stored(md, fresh, rtol)
    added = [t for t in sorted(targets) if t not in stored]
    last_stored = max(i for i, p in enumerate(md.operating_points) if target_of(p) is not None)
    points = []
    for i, p in enumerate(md.operating_points):
        role = metrics.VALIDATION_ROLES.get(target_of(p))  # type: ignore[arg-type]
        points.append({**p, "role": role} if role and "role" not in p else dict(p))
        if i == last_stored:
            points += [fresh[t] for t in added]
    ev = dict(md.evaluation) if isinstance(md.evaluation, dict) else {}
    chosen = [c for c in ev.get("validation_chosen") or []
              if c.get("target_val_sensitivity") not in added]
    chosen += [_chosen_entry(md, fresh[t], t, images) for t in added]
    ev["validation_chosen"] = sorted(chosen, key=lambda c: c["target_val_sensitivity"])
    record = {
        "added": added,
        "checked": checked,
        "rtol": rtol,
        "n_validation_malignant": int(images.val_malignant.size),
        "n_benign_validation": md.benign_stats.n,
        "n_test": int(images.test_scores.size),
        "scored_by": "the app's engine (decode, preprocessing, ONNX Runtime)",
        "created": utc_now_iso(),
        "command": COMMAND,
    }
    extra = {**md.extra, "validation_points": record}
    return replace(md, operating_points=points, evaluation=ev, extra=extra), record


def add_points(model_path: Path, data_root: Path, *, rtol: float = RTOL,
               splits_dir: Path | None = None, progress: Progress = print,
               scorer: Scorer | None = None) -> tuple[str, dict[str, Any]]:
    """Check and extend the validation points of ``model_path``; rewrite it, its sidecar and card.

    Returns the file's SHA-256 and the record kept in ``extra["validation_points"]``; when
    no point is missing, the stored ones are still checked and nothing is written.
    """
    import onnx

    from desktop_app.core.evaluation.suite import engine_scorer
    from desktop_app.core.model.model_file import check_sidecar
    from export.convert import with_metadata, write_model_files
    from export.model_card import card_path, write_model_card

    model_path = Path(model_path)
    before = file_sha256(model_path)
    if not check_sidecar(model_path, before):  # raises when the sidecar disagrees
        msg = f"{model_path}: no .sha256 sidecar, so nothing says this is the exported graph"
        raise ValueError(msg)
    proto = onnx.load(str(model_path))
    md = ModelMetadata.from_props({p.key: p.value for p in proto.metadata_props})
    if not stored_targets(md):  # before minutes of scoring
        msg = "the model stores no validation points to check the engine's scores against"
        raise PointsMismatchError(msg)
    if scorer is None:
        scorer, _info = engine_scorer(model_path)  # loads through the sidecar check
    images = score_images(scorer, Path(data_root), splits_dir, progress)
    new_md, record = with_points(md, images, rtol)
    if not record["added"]:  # checked, nothing missing: the file stays as it is
        return before, record
    record["previous_sha256"] = before
    new_md = replace(new_md, extra={**new_md.extra, "validation_points": record})
    model_bytes = with_metadata(proto.SerializeToString(), new_md)
    digest = write_model_files(model_bytes, model_path)
    write_model_card(card_path(model_path), new_md, file_name=model_path.name, sha256=digest)
    return digest, record


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.validation_points",
                                description=__doc__.splitlines()[0])
    p.add_argument("model", type=Path)
    p.add_argument("--data", type=Path, required=True,
                   help="the shared data folder (holds isic9/; the split files name paths in it)")
    p.add_argument("--rtol", type=float, default=RTOL,
                   help=f"largest relative gap between a stored and a re-derived threshold ({RTOL:g})")
    args = p.parse_args(argv)
    try:
        digest, record = add_points(args.model, args.data, rtol=args.rtol)
    except PointsMismatchError as exc:
        print(f"export.validation_points: refused: {exc}", file=sys.stderr)
        return 3
    except (OSError, ValueError, KeyError, DermScreenError) as exc:
        print(f"export.validation_points: error: {exc}", file=sys.stderr)
        return 2
    for row in record["checked"]:
        print(f"checked {round(100 * row['target'])}%: stored {row['stored']:.8g}, "
              f"re-derived {row['rederived']:.8g}")
    print(f"added {', '.join(f'{round(100 * t)}%' for t in record['added']) or 'nothing'}; "
          f"wrote {args.model} (sha256 {digest}) and its card")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
