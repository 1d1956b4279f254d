"""The ONNX model contract: input/output names and the metadata the app reads.

Export writes :class:`ModelMetadata` into ``metadata_props`` with
:meth:`ModelMetadata.to_props`; the app reads it back with
:meth:`ModelMetadata.from_props`. Values are strings (ONNX's rule); structured
values are JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from desktop_app.core.preprocess import PreprocessConfig
from desktop_app.core.score_stats import BenignStats

FORMAT_VERSION = 1
PREFIX = "dermscreen."

INPUT_NAME = "image"  # float32 [N, size, size, 3], NHWC, values in [0, 1]
OUTPUT_RECONSTRUCTION = "reconstruction"  # float32 [N, size, size, 3]
OUTPUT_ERROR_MAP = "error_map"  # float32 [N, size, size]
OUTPUT_SCORE = "score"  # float32 [N]
OUTPUT_NAMES = (OUTPUT_RECONSTRUCTION, OUTPUT_ERROR_MAP, OUTPUT_SCORE)

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
        ssim_window_size(self.sigma)  # validates sigma
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
    format_version: int = FORMAT_VERSION

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
        out = {}
        for key, value in values.items():
            out[PREFIX + key] = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
        return out

    @classmethod
    def from_props(cls, props: dict[str, str]) -> ModelMetadata:
        missing = [k for k in REQUIRED_KEYS if PREFIX + k not in props]
        if missing:
            msg = "model metadata lacks " + ", ".join(PREFIX + k for k in missing)
            raise MetadataError(msg)

        def get_json(key: str, default: Any) -> Any:
            raw = props.get(PREFIX + key)
            if raw is None:
                return default
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                msg = f"metadata {PREFIX + key} is not valid JSON ({exc})"
                raise MetadataError(msg) from None

        try:
            version = int(props[PREFIX + "format_version"])
            if version > FORMAT_VERSION:
                msg = (
                    f"model format version {version} is newer than this app understands "
                    f"({FORMAT_VERSION}); update DermScreen"
                )
                raise MetadataError(msg)
            return cls(
                format_version=version,
                model_name=props[PREFIX + "model_name"],
                model_version=props[PREFIX + "model_version"],
                created=props[PREFIX + "created"],
                threshold=float(props[PREFIX + "threshold"]),
                threshold_rule=props.get(PREFIX + "threshold_rule", ""),
                heatmap_vmax=float(props.get(PREFIX + "heatmap_vmax", "0")),
                benign_stats=BenignStats.from_dict(get_json("benign_stats", {})),
                loss_weights={k: float(v) for k, v in get_json("loss_weights", {}).items()},
                ssim_window=SsimWindow.from_dict(get_json("ssim_window", {})),
                preprocess=PreprocessConfig.from_dict(get_json("preprocess", {})),
                data=get_json("data", {}),
                evaluation=get_json("evaluation", {}),
                operating_points=get_json("operating_points", []),
                description=props.get(PREFIX + "description", ""),
                extra=get_json("extra", {}),
            )
        except MetadataError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"model metadata does not parse: {exc}"
            raise MetadataError(msg) from None
