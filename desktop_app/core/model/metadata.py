"""The ONNX model contract: input/output names and the metadata the app reads.

Export writes :class:`ModelMetadata` into ``metadata_props`` with
:meth:`ModelMetadata.to_props`; the app reads it back with
:meth:`ModelMetadata.from_props`. Values are strings (ONNX's rule); structured
values are JSON.

Reading is three steps, so a model file is data the app checks, never trusts:
**loaded** (required keys present, ``format_version`` in the supported range,
each value within :data:`MAX_PROP_CHARS`) -> **migrated** (an older format
brought to :data:`FORMAT_VERSION` by :data:`MIGRATIONS`) -> **validated**
(:func:`validate_metadata`: finite, positive, in-range numbers, a threshold
above zero, a pixel limit that can only tighten the app's, short text fields
without control characters; the operating points, an explicit screening
threshold and the test-set counts checked number by number, see
:mod:`desktop_app.core.model.metadata_checks`). JSON values are parsed only when
shallow enough (bounded size and depth). Any failure is a :class:`MetadataError`
naming every problem found.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata_checks import (
    MAX_TOTAL_PROP_CHARS,
    JsonShapeError,
    bounded_json,
    evaluation_problems,
    extra_problems,
    operating_point_problems,
)
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.core.wording.text_safety import strip_control

FORMAT_VERSION = 1
# The oldest metadata format this app reads (through MIGRATIONS).
MIN_FORMAT_VERSION = 1
PREFIX = "dermscreen."
# Upper bound on one metadata value's length (the largest real one, the
# evaluation record, is ~13,000 characters); bounds parsing time and memory.
MAX_PROP_CHARS = 1_000_000
# Text fields people read in the GUI, terminal, CSV and PDF: longest allowed,
# after control characters are stripped.
TEXT_LIMITS: dict[str, int] = {
    "model_name": 200,
    "model_version": 64,
    "created": 64,
    "threshold_rule": 500,
    "description": 10_000,
}
# Benign validation scores kept in the model (for percentiles): enough for any
# validation set, few enough to load in milliseconds.
MAX_BENIGN_SCORES = 200_000

INPUT_NAME = "image"  # float32 [N, size, size, 3], NHWC, values in [0, 1]
# A model may declare more named inputs, each with its own preprocessing (metadata key
# ``inputs``: {name: preprocess}); the engine fills every one from one decode (issue 34:
# the classifier's ``image_hr`` beside the CAE's ``image``). ``image`` keeps ``preprocess``.
MAX_EXTRA_INPUTS = 4
MAX_INPUT_NAME = 64
OUTPUT_RECONSTRUCTION = "reconstruction"  # float32 [N, size, size, 3]
OUTPUT_ERROR_MAP = "error_map"  # float32 [N, size, size]
OUTPUT_SCORE = "score"  # float32 [N]
OUTPUT_NAMES = (OUTPUT_RECONSTRUCTION, OUTPUT_ERROR_MAP, OUTPUT_SCORE)
# Optional outputs of a combined model (issue 27), read by name where the graph has them.
# ``score`` stays the number every decision uses; these name its parts.
OUTPUT_ANOMALY_SCORE = "anomaly_score"  # float32 [N]: the benign-only CAE's own score
OUTPUT_PROBABILITY = "probability"  # float32 [N]: the labelled classifier's P(malignant)
OUTPUT_EVIDENCE_MAP = "evidence_map"  # float32 [N, size, size]: the classifier's CAM (logit units)
OPTIONAL_OUTPUT_NAMES = (OUTPUT_ANOMALY_SCORE, OUTPUT_PROBABILITY, OUTPUT_EVIDENCE_MAP)
# Where a combined model names its components: extra["components"][key]["label"]
# (checked by metadata_checks.component_problems).

# How T is chosen unless a model says otherwise (its `threshold_rule`).
ALPHA_RULE = "mean + alpha * sd of benign validation scores"

REQUIRED_KEYS = (
    "format_version",
    "model_name",
    "model_version",
    "created",
    "threshold",
    "benign_stats",
    "loss_weights",
    "preprocess",
)


def ssim_window_size(sigma: float) -> int:
    """Odd SSIM window covering +-3 sigma: 11 for sigma 1.5 (tf.image.ssim's window)."""
    if not sigma > 0:
        msg = f"SSIM window sigma must be positive, got {sigma}"
        raise ValueError(msg)
    return 2 * math.ceil(3.0 * sigma) + 1


SSIM_BORDERS = ("valid", "reflect")
# A 97x97 window at sigma 16; the improved model uses 8 (49x49) on 128x128 images.
MAX_SSIM_SIGMA = 16.0


@dataclass(frozen=True)
class SsimWindow:
    """The SSIM window of the score: Gaussian ``sigma`` and what happens at the image border.

    ``valid``: SSIM only where the whole window fits (tf.image.ssim; the reference).
    ``reflect``: the images are mirrored at their edges first, so the SSIM map
    covers the whole image; with a wide window ``valid`` would ignore a broad
    frame of the picture.
    """

    sigma: float = 1.5
    border: str = "valid"

    def __post_init__(self) -> None:
        if not isinstance(self.sigma, int | float) or not 0 < self.sigma <= MAX_SSIM_SIGMA:
            msg = f"SSIM window sigma must be above 0 and at most {MAX_SSIM_SIGMA:g}, got {self.sigma!r}"
            raise ValueError(msg)
        if self.border not in SSIM_BORDERS:
            msg = f"SSIM border must be one of {SSIM_BORDERS}, got {self.border!r}"
            raise ValueError(msg)

    @property
    def size(self) -> int:
        return ssim_window_size(self.sigma)

    def describe(self) -> str:
        edge = "reflected image borders" if self.border == "reflect" else "no padding (valid)"
        return f"{self.size}x{self.size} Gaussian window, sigma {self.sigma:g}, {edge}"

    def to_dict(self) -> dict[str, Any]:
        return {"sigma": float(self.sigma), "border": self.border}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> SsimWindow:
        data = data or {}
        return cls(sigma=float(data.get("sigma", 1.5)), border=str(data.get("border", "valid")))


REFERENCE_WINDOW = SsimWindow()


class MetadataError(ValueError):
    """Metadata is missing a key or holds a value that does not parse."""


@dataclass(frozen=True)
class ModelMetadata:
    """Everything the app needs besides the graph itself."""

    model_name: str
    model_version: str
    created: str
    threshold: float
    benign_stats: BenignStats
    loss_weights: dict[str, float]
    preprocess: PreprocessConfig
    threshold_rule: str = ALPHA_RULE
    # The score's SSIM window (the reference's: 11x11, sigma 1.5, valid).
    ssim_window: SsimWindow = REFERENCE_WINDOW
    # Error-map value drawn at full colour: a high quantile of benign
    # validation error maps, so a normal case looks calm.
    heatmap_vmax: float = 0.0
    data: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    operating_points: list[dict[str, Any]] = field(default_factory=list)
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # Inputs beyond ``image``, by name, each with its preprocessing (empty: one input).
    extra_inputs: dict[str, PreprocessConfig] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def input_configs(self) -> dict[str, PreprocessConfig]:
        """Every input the graph takes, by name, with its preprocessing (``image`` first)."""
        return {INPUT_NAME: self.preprocess, **self.extra_inputs}

    def to_props(self) -> dict[str, str]:
        values: dict[str, Any] = {
            "format_version": self.format_version,
            "model_name": self.model_name,
            "model_version": self.model_version,
            "created": self.created,
            "threshold": repr(float(self.threshold)),
            "threshold_rule": self.threshold_rule,
            "heatmap_vmax": repr(float(self.heatmap_vmax)),
            "benign_stats": self.benign_stats.to_dict(),
            "loss_weights": self.loss_weights,
            "ssim_window": self.ssim_window.to_dict(),
            "preprocess": self.preprocess.to_dict(),
            "data": self.data,
            "evaluation": self.evaluation,
            "operating_points": self.operating_points,
            "description": self.description,
            "extra": self.extra,
        }
        if self.extra_inputs:  # a one-input model's props stay as they were
            values["inputs"] = {k: v.to_dict() for k, v in self.extra_inputs.items()}
        out = {}
        for key, value in values.items():
            out[PREFIX + key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return out

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        """Loaded -> migrated -> validated; raises :class:`MetadataError` naming the problems."""
        version = _load_checks(props)
        props = migrate_props(props, version)
        return validate_metadata(cls._parse(props, version))

    @classmethod
    def _parse(cls, props: dict[str, str], version: int) -> ModelMetadata:
        """Build the dataclass from (migrated) props; values are checked by :func:`validate_metadata`."""

        def get_json(key: str, default: Any) -> Any:
            raw = props.get(PREFIX + key)
            if raw is None:
                return default
            try:
                return bounded_json(raw)
            except JsonShapeError as exc:
                msg = f"metadata {PREFIX + key} {exc}"
                raise MetadataError(msg) from None

        try:
            vmax_raw = props.get(PREFIX + "heatmap_vmax")
            heatmap_vmax = 0.0 if vmax_raw is None else float(vmax_raw)
            if vmax_raw is not None and not heatmap_vmax > 0:
                # 0 means "no heatmap scale" only when the key is absent.
                msg = f"heatmap_vmax must be a finite number above 0, got {vmax_raw!r}"
                raise MetadataError(msg)
            return cls(
                format_version=version,
                model_name=props[PREFIX + "model_name"],
                model_version=props[PREFIX + "model_version"],
                created=props[PREFIX + "created"],
                threshold=float(props[PREFIX + "threshold"]),
                threshold_rule=props.get(PREFIX + "threshold_rule", ""),
                heatmap_vmax=heatmap_vmax,
                benign_stats=BenignStats.from_dict(get_json("benign_stats", {})),
                loss_weights={k: float(v) for k, v in get_json("loss_weights", {}).items()},
                ssim_window=SsimWindow.from_dict(get_json("ssim_window", {})),
                preprocess=PreprocessConfig.from_dict(get_json("preprocess", {})),
                data=get_json("data", {}),
                evaluation=get_json("evaluation", {}),
                operating_points=get_json("operating_points", []),
                description=props.get(PREFIX + "description", ""),
                extra=get_json("extra", {}),
                extra_inputs=_parse_inputs(get_json("inputs", {})),
            )
        except MetadataError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            msg = f"model metadata is not valid: {exc}"
            raise MetadataError(msg) from None


def _parse_inputs(raw: Any) -> dict[str, PreprocessConfig]:
    """The ``inputs`` object: {name: preprocess}; names are short identifiers, never ``image``."""
    if not isinstance(raw, dict):
        msg = "metadata inputs must be a JSON object of input name -> preprocessing"
        raise MetadataError(msg)
    if len(raw) > MAX_EXTRA_INPUTS:
        msg = f"metadata inputs declares {len(raw)} inputs; at most {MAX_EXTRA_INPUTS}"
        raise MetadataError(msg)
    out = {}
    for name, cfg in raw.items():
        if (not name.isidentifier() or len(name) > MAX_INPUT_NAME or name == INPUT_NAME):
            shown = strip_control(name)[:MAX_INPUT_NAME]
            msg = (f"metadata inputs: {shown!r} is not a valid extra input name (a short "
                   f"identifier other than {INPUT_NAME!r})")
            raise MetadataError(msg)
        if not isinstance(cfg, dict):
            msg = f"metadata inputs: preprocessing of {name!r} must be a JSON object"
            raise MetadataError(msg)
        try:
            out[name] = PreprocessConfig.from_dict(cfg)
        except (TypeError, ValueError) as exc:
            msg = f"metadata inputs: preprocessing of {name!r} is not valid: {exc}"
            raise MetadataError(msg) from None
    return out


def _load_checks(props: dict[str, str]) -> int:
    """Step 1 (loaded): required keys, value sizes, a supported ``format_version``; returns it."""
    missing = [k for k in REQUIRED_KEYS if PREFIX + k not in props]
    if missing:
        msg = "model metadata lacks " + ", ".join(PREFIX + k for k in missing)
        raise MetadataError(msg)
    total = 0
    for key, value in props.items():
        if key.startswith(PREFIX) and len(value) > MAX_PROP_CHARS:
            msg = f"metadata {key} is {len(value):,} characters long; at most {MAX_PROP_CHARS:,}"
            raise MetadataError(msg)
        total += len(value) if key.startswith(PREFIX) else 0
    if total > MAX_TOTAL_PROP_CHARS:
        msg = (f"model metadata is {total:,} characters in all; at most "
               f"{MAX_TOTAL_PROP_CHARS:,}")
        raise MetadataError(msg)
    raw = props[PREFIX + "format_version"].strip()
    try:
        version = int(raw)
    except ValueError:
        msg = f"model format version {raw[:20]!r} is not a whole number"
        raise MetadataError(msg) from None
    if version > FORMAT_VERSION:
        msg = (
            f"model format version {version} is newer than this app understands "
            f"({FORMAT_VERSION}); update DermScreen"
        )
        raise MetadataError(msg)
    if version < MIN_FORMAT_VERSION:
        msg = (
            f"model format version {version} is not supported (this app reads "
            f"{MIN_FORMAT_VERSION} to {FORMAT_VERSION})"
        )
        raise MetadataError(msg)
    return version


# Step 2 (migrated): MIGRATIONS[v] turns format v's props into format v + 1's.
# Format 1 is the first, so there is nothing to migrate yet; a format 2 adds
# its step here and keeps reading every model written before it.
MIGRATIONS: dict[int, Callable[[dict[str, str]], dict[str, str]]] = {}


def migrate_props(props: dict[str, str], version: int) -> dict[str, str]:
    """``props`` of format ``version`` brought to :data:`FORMAT_VERSION`."""
    out = dict(props)
    for step in range(version, FORMAT_VERSION):
        out = MIGRATIONS[step](out)
    out[PREFIX + "format_version"] = str(FORMAT_VERSION)
    return out


def _finite(value: float) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def component_label(meta: ModelMetadata, key: str) -> str:
    """The clean label of a combined model's component, or "" for a single-part model."""
    comp = meta.extra.get("components") if isinstance(meta.extra, dict) else None
    if isinstance(comp, dict) and isinstance(comp.get(key), dict):
        return strip_control(str(comp[key].get("label", ""))).strip()
    return ""


def validate_metadata(meta: ModelMetadata) -> ModelMetadata:
    """Step 3 (validated): ``meta`` with text fields cleaned, or :class:`MetadataError` listing every problem.

    Text fields lose control characters (ANSI escapes, newlines, bidi
    overrides) and must then fit :data:`TEXT_LIMITS`; the threshold must be a
    finite number above zero (the score is a non-negative reconstruction
    error); the benign statistics finite with sd > 0 and sorted scores; the
    heatmap scale finite and not negative; loss weights finite. The
    preprocessing and SSIM window check themselves when built.
    """
    problems: list[str] = []
    texts: dict[str, str] = {}
    for name, limit in TEXT_LIMITS.items():
        value = getattr(meta, name)
        if not isinstance(value, str):
            problems.append(f"{name} must be text")
            continue
        clean = strip_control(value).strip()
        if len(clean) > limit:
            problems.append(f"{name} is {len(clean):,} characters long; at most {limit:,}")
        texts[name] = clean
    if "model_name" in texts and not texts["model_name"]:
        problems.append("model_name is empty")
    if not (_finite(meta.threshold) and meta.threshold > 0):
        problems.append(
            f"threshold must be a finite number above 0 (the score is a reconstruction "
            f"error), got {meta.threshold!r}"
        )
    stats = meta.benign_stats
    if not (_finite(stats.mean) and stats.mean >= 0):
        problems.append(f"benign mean must be finite and not negative (scores are "
                        f"reconstruction errors), got {stats.mean!r}")
    if not (_finite(stats.sd) and stats.sd > 0):
        problems.append(f"benign sd must be a finite number above 0, got {stats.sd!r}")
    if not _finite(stats.alpha):
        problems.append(f"benign alpha must be finite, got {stats.alpha!r}")
    if stats.n < 2:
        problems.append(f"benign statistics need at least 2 validation scores, got n={stats.n}")
    if len(stats.scores) > MAX_BENIGN_SCORES:
        problems.append(f"{len(stats.scores):,} benign scores stored; at most {MAX_BENIGN_SCORES:,}")
    elif not all(math.isfinite(v) for v in stats.scores):
        problems.append("benign scores must all be finite")
    if not all(_finite(v) for v in stats.quantiles.values()):
        problems.append("benign quantiles must all be finite")
    if not (_finite(meta.heatmap_vmax) and meta.heatmap_vmax >= 0):
        problems.append(f"heatmap_vmax must be finite and not negative, got {meta.heatmap_vmax!r}")
    if not all(_finite(v) and v >= 0 for v in meta.loss_weights.values()):
        problems.append("loss weights must all be finite and not negative")
    if not isinstance(meta.data, dict):
        problems.append("data must be a JSON object")
    problems += operating_point_problems(meta.operating_points)
    problems += extra_problems(meta.extra)
    problems += evaluation_problems(meta.evaluation)
    if problems:
        raise MetadataError("model metadata is not valid: " + "; ".join(problems))
    if list(stats.scores) != sorted(stats.scores):
        # Percentiles bisect the stored scores: keep them sorted whatever wrote them.
        stats = replace(stats, scores=tuple(sorted(stats.scores)))
    return replace(meta, benign_stats=stats, **texts)
