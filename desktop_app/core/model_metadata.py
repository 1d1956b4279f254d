"""The ONNX model contract: input/output names and the metadata the app reads.

Export writes :class:`ModelMetadata` into ``metadata_props`` with
:meth:`ModelMetadata.to_props`; the app reads it back with
:meth:`ModelMetadata.from_props`. Values are strings (ONNX's rule); structured
values are JSON.
"""

from __future__ import annotations

import json
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
    threshold_rule: str = "mean + alpha * sd of benign validation scores"
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
