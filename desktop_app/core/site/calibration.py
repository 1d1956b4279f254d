"""From engine results to a site profile, and the labelled-site check of a calibration (Qt-free).

Shared by ``dermscreen calibrate``, ``dermscreen evaluate --calibrate-half`` and
the window's Model > Calibrate to This Site: the same duplicate and error
handling, the same threshold rule (:mod:`desktop_app.core.site.site_profile`), and
the same drift report (:mod:`desktop_app.core.inference.drift`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_app.core.inference.drift import IMAGE_SHARE_ALARM, DriftReport, check_batch
from desktop_app.core.model.operating_points import wilson
from desktop_app.core.model.score_stats import DEFAULT_ALPHA
from desktop_app.core.site.site_profile import (
    DEFAULT_SPECIFICITY,
    MIN_IMAGES,
    WARN_IMAGES,
    ProfileError,
    SiteProfile,
    calibrated_threshold,
    estimated_sensitivity,
    make_profile,
)

if TYPE_CHECKING:
    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.model_file import LoadedModel


@dataclass
class CalibrationInput:
    """The usable scores of a calibration folder, and what was left out and why."""

    scores: list[float]
    shas: list[str]
    n_files: int
    errors: list[AnalysisResult] = field(default_factory=list)
    duplicates: list[AnalysisResult] = field(default_factory=list)  # same SHA-256 as an earlier file
    used: list[AnalysisResult] = field(default_factory=list)  # each distinct image once

    def left_out_words(self) -> str:
        """'39 were duplicates of an earlier file (same SHA-256), 1 could not be read' or ''."""
        parts = []
        if self.duplicates:
            parts.append(f"{len(self.duplicates)} were duplicates of an earlier file (same "
                         "SHA-256, counted once)")
        if self.errors:
            parts.append(f"{len(self.errors)} could not be read or analysed")
        return ", ".join(parts)

    def problems(self) -> list[str]:
        """Sentences for the user: duplicates, error rows, too few images."""
        out = []
        if self.duplicates:
            out.append(f"{len(self.duplicates)} duplicate files (same SHA-256 as an earlier file) "
                       "counted once")
        if self.errors:
            out.append(f"{len(self.errors)} files could not be analysed (left out)")
        if len(self.scores) < WARN_IMAGES and len(self.scores) >= MIN_IMAGES:
            out.append(f"only {len(self.scores)} benign images: the point is set, but its "
                       f"interval is wide ({WARN_IMAGES} or more recommended)")
        return out


def calibration_input(results: Sequence[AnalysisResult]) -> CalibrationInput:
    """Usable scores (each distinct image once), error rows and duplicates, in input order."""
    seen: set[str] = set()
    out = CalibrationInput([], [], len(results))
    for r in sorted(results, key=lambda r: r.index):
        if not r.ok or r.score is None:
            out.errors.append(r)
        elif r.image_sha256 in seen:
            out.duplicates.append(r)
        else:
            seen.add(r.image_sha256)
            out.used.append(r)
            out.scores.append(float(r.score))
            out.shas.append(r.image_sha256)
    return out


def profile_from_results(name: str, results: Sequence[AnalysisResult], model: LoadedModel, *,
                         rule: str = "quantile", specificity: float = DEFAULT_SPECIFICITY,
                         alpha: float = DEFAULT_ALPHA, created_by: str = ""
                         ) -> tuple[SiteProfile, CalibrationInput]:
    """A profile from a calibration folder's results (ProfileError under :data:`MIN_IMAGES`)."""
    data = calibration_input(results)
    counts = flag_counts(data.used)
    try:
        profile = make_profile(name, data.scores, data.shas, model_sha256=model.sha256,
                               meta=model.metadata, rule=rule, specificity=specificity,
                               alpha=alpha, created_by=created_by,
                               accepted_flags=usual_flags(data.used), flag_counts=counts)
    except ProfileError as exc:
        left_out = data.left_out_words()
        raise ProfileError(f"{exc}" + (f"; of {data.n_files} files, {left_out}" if left_out
                                       else "")) from None
    return profile, data


def flag_counts(results: Sequence[AnalysisResult]) -> dict[str, int]:
    """Per image statistic, how many of ``results`` were out of the training range on it."""
    return dict(sorted(Counter(f for r in results if r.ok for f in set(r.input_flags)).items()))


def usual_flags(results: Sequence[AnalysisResult]) -> tuple[str, ...]:
    """Image statistics out of the training range in at least :data:`IMAGE_SHARE_ALARM` of
    the analysed images (e.g. every photograph of a site that is not square)."""
    ok = [r for r in results if r.ok]
    if not ok:
        return ()
    counts = flag_counts(ok)
    return tuple(sorted(f for f, n in counts.items() if n / len(ok) >= IMAGE_SHARE_ALARM))


def drift_of(results: Sequence[AnalysisResult], model: LoadedModel,
             profile: SiteProfile | None, *, ranges_known: bool,
             threshold: float | None = None) -> DriftReport:
    """The batch's drift report against the point's own reference: the site profile's benign
    scores when one is active, else the model's benign validation scores. ``threshold``: the
    point in use (default: the one the results were decided at)."""
    ok = [r for r in results if r.ok and r.score is not None]
    reference = profile.scores if profile is not None else model.metadata.benign_stats.scores
    where = f"site profile {profile.name}" if profile is not None else "validation"
    if threshold is None and ok:
        threshold = ok[0].threshold
    # What is usual in the site's own calibration images raises no alarm with its profile.
    accepted = set(profile.accepted_flags) if profile is not None else set()
    return check_batch([float(r.score or 0.0) for r in ok], reference,
                       [[f for f in r.input_flags if f not in accepted] for r in ok],
                       reference=where, image_ranges_known=ranges_known, threshold=threshold)


def calibrate_half(labels: Sequence[int], scores: Sequence[float], model: LoadedModel, *,
                   seed: int = 0, rule: str = "quantile",
                   specificity: float = DEFAULT_SPECIFICITY, alpha: float = DEFAULT_ALPHA
                   ) -> dict[str, Any]:
    """Calibrate on a seeded half of the benign images, measure on the rest and on all cancers.

    Specificity on the held-out benign half and sensitivity on every malignant
    image, each with a 95% Wilson interval, beside the sensitivity the profile
    would have *estimated* from the model's validation cancers.
    """
    y = np.asarray(labels, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    benign = np.flatnonzero(~y)
    rng = np.random.default_rng(seed)
    order = rng.permutation(benign)
    half = order.size // 2
    calib, held = order[:half], order[half:]
    if calib.size < MIN_IMAGES:
        msg = f"{benign.size} benign images: half of them is under the {MIN_IMAGES} a profile needs"
        raise ValueError(msg)
    threshold = calibrated_threshold(s[calib], rule, specificity=specificity, alpha=alpha)
    spec = float(np.mean(s[held] <= threshold))
    n_mal = int(y.sum())
    sens = float(np.mean(s[y] > threshold)) if n_mal else float("nan")
    calib_spec = float(np.mean(s[calib] <= threshold))
    estimate, source = estimated_sensitivity(model.metadata, calib_spec)
    return {
        "seed": seed, "rule": rule, "target_specificity": specificity if rule == "quantile" else None,
        "alpha": alpha if rule == "alpha" else None, "threshold": threshold,
        "n_calibration": int(calib.size), "n_held_out_benign": int(held.size),
        "n_malignant": n_mal,
        "specificity_held_out": spec, "specificity_ci95": list(wilson(spec, int(held.size))),
        "sensitivity": sens, "sensitivity_ci95": list(wilson(sens, n_mal)) if n_mal else [None, None],
        "sensitivity_estimated": estimate, "sensitivity_estimate_source": source,
    }
