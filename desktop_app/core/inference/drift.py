"""Drift alarm: is a batch like the images the active operating point was set on? (Qt-free)

Two checks, neither needs a label:

* **Scores.** Where the batch's lower quartile of scores sits in the reference
  benign scores (the model's benign validation scores, or the active site
  profile's). A batch of benign images from the reference's site puts it near
  the 25th reference percentile; a batch that also holds cancers pushes it up,
  but a batch of up to half cancers (isic9 Test holds 54%) keeps it near the
  benign median. So the alarm fires only when the seeded bootstrap 95% interval
  of that percentile lies wholly above :data:`SCORE_RANK_HIGH` (the site's
  benign lesions score higher: the point flags far more of them than it says)
  or wholly below :data:`SCORE_RANK_LOW` (scores lower: it flags fewer cancers).
* **Images.** Cheap statistics of the image the model actually sees (the
  preprocessed :data:`STATS_SIDE` square input: colour means, sharpness, dark
  border) against the same statistics of the images the model was validated
  on (:func:`reference_ranges`). The original's pixel size and aspect ratio are
  not checked: preprocessing squashes every image to the model's square input,
  as the training images themselves were squashed, so a full-resolution 4:3
  original reaches the model as the same kind of input. An image outside the
  ranges is flagged on its own; the batch is out of range when at least
  :data:`IMAGE_SHARE_ALARM` of its images are.

Neither half judges a batch of fewer than :data:`MIN_SCORED_FOR_DRIFT` images:
a handful of unusual images says nothing about a site, and an alarm that fires
on every small folder teaches people to dismiss it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from desktop_app.core.base.paths import resources_dir
from desktop_app.core.model.metadata_checks import STAT_NAMES

SCORE_RANK_HIGH = 0.50  # batch lower quartile above the reference benign median
SCORE_RANK_LOW = 0.10  # ... or below the reference's 10th percentile
MIN_SCORED_FOR_DRIFT = 20  # fewer images: the interval is too wide to say anything
BOOTSTRAP_RESAMPLES = 1000
BATCH_QUANTILE = 0.25
IMAGE_SHARE_ALARM = 0.25
MOST_FLAGGED_SHARE = 0.75
# Checked by earlier versions on the original file (size and aspect ratio); a stored site
# profile may still name them among its accepted flags, so they stay known names.
LEGACY_STAT_NAMES: tuple[str, ...] = ("long_side", "aspect")
KNOWN_STAT_NAMES: tuple[str, ...] = STAT_NAMES + LEGACY_STAT_NAMES
STAT_WORDS: dict[str, str] = {
    "long_side": "size", "aspect": "aspect ratio", "mean_r": "red", "mean_g": "green",
    "mean_b": "blue", "sharpness": "sharpness", "vignette_share": "dark border",
}
STATS_SIDE = 128  # the side of the square the statistics are taken on (the models' input side)
VIGNETTE_LEVEL = 30  # grey level below which a pixel counts as the dermoscope's dark border
RANGES_FILE = "image_ranges.json"
RANGES_EXTRA_KEY = "image_ranges"  # a model may carry its ranges in metadata extra


def model_input_uint8(tensor: np.ndarray) -> np.ndarray:
    """The preprocessed model input (float32 in [0, 1], HxWx3) as the uint8 image it came from."""
    return np.clip(tensor * 255.0 + 0.5, 0, 255).astype(np.uint8)


def image_stats(model_input: np.ndarray) -> dict[str, float]:
    """Cheap statistics of the image the model sees: ``model_input`` is the preprocessed input
    (uint8 RGB, or float in [0, 1]); it is brought to :data:`STATS_SIDE` square first (a no-op
    for the shipped models), so the figures never depend on the original's size."""
    rgb = model_input_uint8(model_input) if model_input.dtype != np.uint8 else model_input
    if rgb.shape[:2] != (STATS_SIDE, STATS_SIDE):
        rgb = cv2.resize(rgb, (STATS_SIDE, STATS_SIDE), interpolation=cv2.INTER_AREA)
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    means = rgb.reshape(-1, 3).mean(axis=0)
    return {
        "mean_r": float(means[0]),
        "mean_g": float(means[1]),
        "mean_b": float(means[2]),
        "sharpness": float(cv2.Laplacian(gray, cv2.CV_64F).var()),
        "vignette_share": float(np.mean(gray < VIGNETTE_LEVEL)),
    }


@dataclass(frozen=True)
class StatRange:
    """Accepted range of one statistic: the reference's 0.5-99.5th percentiles, widened."""

    low: float
    high: float

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def widen(name: str, p_low: float, p_high: float) -> StatRange:
    """The accepted range from the reference percentiles (why each margin: see the comments)."""
    span = p_high - p_low
    if name == "sharpness":
        lo, hi = math.log(max(p_low, 1e-6)), math.log(max(p_high, 1e-6))
        margin = max(0.1 * (hi - lo), math.log(1.5))
        return StatRange(math.exp(lo - margin), math.exp(hi + margin))
    if name == "vignette_share":
        margin = max(0.1 * span, 0.05)
        return StatRange(max(0.0, p_low - margin), min(1.0, p_high + margin))
    margin = max(0.1 * span, 10.0)  # colour means, 0-255
    return StatRange(p_low - margin, p_high + margin)


def ranges_from_stats(rows: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Reference percentiles per statistic from the reference images' statistics."""
    out: dict[str, dict[str, float]] = {}
    for name in STAT_NAMES:
        values = np.asarray([r[name] for r in rows], dtype=np.float64)
        out[name] = {"p005": float(np.quantile(values, 0.005)),
                     "p995": float(np.quantile(values, 0.995))}
    return out


@dataclass(frozen=True)
class ImageRanges:
    """The accepted range of every statistic, and where the reference came from."""

    ranges: dict[str, StatRange]
    source: str
    n: int

    @classmethod
    def from_dict(cls, data: Any) -> ImageRanges:
        """From ``{"source", "n", "stats": {name: {"p005", "p995"}}}``; ValueError if malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("stats"), dict):
            msg = "image ranges: expected an object with 'stats'"
            raise ValueError(msg)
        ranges = {}
        for name in STAT_NAMES:
            entry = data["stats"].get(name)
            if not isinstance(entry, dict):
                msg = f"image ranges: statistic {name!r} missing"
                raise ValueError(msg)
            lo, hi = float(entry["p005"]), float(entry["p995"])
            if not (math.isfinite(lo) and math.isfinite(hi) and lo <= hi):
                msg = f"image ranges: {name!r} is not a finite low <= high"
                raise ValueError(msg)
            ranges[name] = widen(name, lo, hi)
        return cls(ranges, str(data.get("source", "")), int(data.get("n", 0)))

    def out_of_range(self, stats: dict[str, float]) -> list[str]:
        """Names of the statistics outside their range (empty: like the reference images)."""
        return [n for n in STAT_NAMES if n in stats and not self.ranges[n].contains(stats[n])]


def reference_ranges(model_sha256: str, extra: dict[str, Any] | None = None) -> ImageRanges | None:
    """The image ranges for a model: its metadata's ``extra.image_ranges``, else the entry for
    its SHA-256 in ``resources/image_ranges.json`` (written by ``python -m export.image_ranges``);
    None when neither has them (per-image checks are then off, and say so)."""
    if extra and isinstance(extra.get(RANGES_EXTRA_KEY), dict):
        try:
            return ImageRanges.from_dict(extra[RANGES_EXTRA_KEY])
        except (KeyError, TypeError, ValueError):
            pass
    path = resources_dir() / RANGES_FILE
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
        entry = table.get(model_sha256.lower()) if isinstance(table, dict) else None
        return ImageRanges.from_dict(entry) if entry is not None else None
    except (OSError, KeyError, TypeError, ValueError):
        return None


def input_check_words(names: list[str] | tuple[str, ...]) -> str:
    """'red, sharpness outside the training images' range' (or '' when none)."""
    if not names:
        return ""
    return ", ".join(STAT_WORDS.get(n, n) for n in names) + " outside the training images' range"


@dataclass(frozen=True)
class DriftReport:
    """What the drift checks say about a batch."""

    n_scored: int
    rank: float | None  # reference percentile (0-1) of the batch's lower quartile
    rank_ci: tuple[float, float] | None
    score_alarm: str  # "", "high" or "low"
    n_images_checked: int
    n_images_out: int
    reference: str  # "validation" or "site profile NAME"
    image_ranges_known: bool = True
    notes: list[str] = field(default_factory=list)
    threshold_rank: float | None = None  # reference percentile (0-1) of the threshold in use
    flagged_share: float | None = None  # share of the batch's scores above that threshold
    stats_out: tuple[str, ...] = ()  # the statistics out of range, most often first

    @property
    def image_alarm(self) -> bool:
        return self.n_images_checked >= MIN_SCORED_FOR_DRIFT and \
            self.n_images_out / self.n_images_checked >= IMAGE_SHARE_ALARM

    @property
    def alarm(self) -> bool:
        return bool(self.score_alarm) or self.image_alarm

    @property
    def status(self) -> str:
        """The CSV cell: 'out of range', 'in range' or 'not checked' (too few images)."""
        if self.alarm:
            return "out of range"
        if self.n_scored < MIN_SCORED_FOR_DRIFT and self.n_images_checked < MIN_SCORED_FOR_DRIFT:
            return "not checked"
        return "in range"

    @property
    def most_flagged(self) -> bool:
        """Most benign lesions are flagged: at least :data:`MOST_FLAGGED_SHARE` of the batch is,
        so even with half of it cancers, more than half of its benign lesions are."""
        return (self.score_alarm == "high" and self.flagged_share is not None
                and self.flagged_share >= MOST_FLAGGED_SHARE)

    def words(self) -> str:
        """What the alarm means for the clinician, and what to do (no statistics)."""
        from desktop_app.core.wording import texts

        if not self.alarm:
            return ""
        parts = []
        if self.score_alarm:
            parts.append(texts.drift_score_words(self.score_alarm, self.reference,
                                                 most=self.most_flagged))
        if self.image_alarm:
            kinds = ["colour" if n.startswith("mean_") else STAT_WORDS.get(n, n)
                     for n in self.stats_out]
            parts.append(texts.drift_image_words(list(dict.fromkeys(kinds))))
        return " ".join(parts) + " " + texts.DRIFT_ADVICE

    def details(self) -> str:
        """The statistics behind the alarm (a tooltip, a log line, the CLI's detail line)."""
        from desktop_app.core.wording import texts

        return texts.drift_details(
            self.reference, self.n_scored, self.rank, self.rank_ci, self.threshold_rank,
            self.flagged_share, self.n_images_out, self.n_images_checked, min_images=MIN_SCORED_FOR_DRIFT,
            notes=self.notes)


def batch_rank(scores: np.ndarray, reference: np.ndarray) -> float:
    """Reference percentile (0-1) of the batch's lower quartile."""
    q = float(np.quantile(scores, BATCH_QUANTILE))
    return float(np.searchsorted(reference, q, side="right") / reference.size)


def check_batch(scores: list[float] | np.ndarray, reference_scores: list[float] | tuple[float, ...],
                input_flags: list[list[str]] | None = None, *, reference: str = "validation",
                image_ranges_known: bool = True, seed: int = 0,
                threshold: float | None = None) -> DriftReport:
    """The drift report of a batch: its scores against ``reference_scores`` (benign), and the
    share of images whose statistics were out of range (``input_flags``: one list per image).
    ``threshold``: the point in use, so the words can say whether most images are flagged."""
    arr = np.asarray([s for s in scores if s is not None and math.isfinite(s)], dtype=np.float64)
    ref = np.sort(np.asarray(reference_scores, dtype=np.float64))
    rank = rank_ci = None
    alarm = ""
    notes = []
    if arr.size >= MIN_SCORED_FOR_DRIFT and ref.size >= 2:
        rank = batch_rank(arr, ref)
        rng = np.random.default_rng(seed)
        draws = rng.integers(0, arr.size, size=(BOOTSTRAP_RESAMPLES, arr.size))
        qs = np.quantile(arr[draws], BATCH_QUANTILE, axis=1)
        ranks = np.searchsorted(ref, qs, side="right") / ref.size
        rank_ci = (float(np.quantile(ranks, 0.025)), float(np.quantile(ranks, 0.975)))
        if rank_ci[0] > SCORE_RANK_HIGH:
            alarm = "high"
        elif rank_ci[1] < SCORE_RANK_LOW:
            alarm = "low"
    else:
        notes.append(f"not checked: fewer than {MIN_SCORED_FOR_DRIFT} images scored")
    flags = input_flags or []
    if not image_ranges_known:
        notes.append("image checks off: no reference image ranges for this model")
    counts: dict[str, int] = {}
    for names in flags:
        for name in names:
            counts[name] = counts.get(name, 0) + 1
    threshold_rank = flagged_share = None
    if threshold is not None and math.isfinite(threshold) and ref.size:
        threshold_rank = float(np.searchsorted(ref, threshold, side="right") / ref.size)
        flagged_share = float(np.mean(arr > threshold)) if arr.size else None
    return DriftReport(
        n_scored=int(arr.size), rank=rank, rank_ci=rank_ci, score_alarm=alarm,
        n_images_checked=len(flags) if image_ranges_known else 0,
        n_images_out=sum(1 for f in flags if f) if image_ranges_known else 0,
        reference=reference, image_ranges_known=image_ranges_known, notes=notes,
        threshold_rank=threshold_rank, flagged_share=flagged_share,
        stats_out=tuple(sorted(counts, key=lambda n: (-counts[n], n))) if image_ranges_known
        else (),
    )
