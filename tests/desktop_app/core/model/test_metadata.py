"""The metadata contract round-trips through string properties and fails clearly."""

from __future__ import annotations

import pytest

from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import PREFIX, MetadataError, ModelMetadata
from desktop_app.core.model.score_stats import BenignStats


def _meta() -> ModelMetadata:
    stats = BenignStats.from_scores([0.1, 0.2, 0.3, 0.25], alpha=1.3)
    return ModelMetadata(
        model_name="test",
        model_version="0.0.1",
        created="2026-11-25T00:00:00Z",
        threshold=stats.threshold(),
        benign_stats=stats,
        loss_weights={"mse": 0.4, "ssim": 0.6},
        preprocess=PreprocessConfig(hair_removal=False),
        heatmap_vmax=0.42,
        operating_points=[{"label": "alpha 1.3", "alpha": 1.3, "threshold": 0.3}],
    )


def test_round_trip() -> None:
    meta = _meta()
    props = meta.to_props()
    assert all(isinstance(v, str) for v in props.values())
    assert all(k.startswith(PREFIX) for k in props)
    assert ModelMetadata.from_props(props) == meta


def test_missing_key_named() -> None:
    props = _meta().to_props()
    del props[PREFIX + "threshold"]
    with pytest.raises(MetadataError, match=r"dermscreen\.threshold"):
        ModelMetadata.from_props(props)


def test_bad_json_and_newer_version() -> None:
    props = _meta().to_props()
    props[PREFIX + "benign_stats"] = "{not json"
    with pytest.raises(MetadataError, match="benign_stats"):
        ModelMetadata.from_props(props)
    props = _meta().to_props()
    props[PREFIX + "format_version"] = "99"
    with pytest.raises(MetadataError, match="newer"):
        ModelMetadata.from_props(props)


def test_loaded_migrated_validated() -> None:
    from desktop_app.core.model.metadata import (
        FORMAT_VERSION,
        MIN_FORMAT_VERSION,
        migrate_props,
        validate_metadata,
    )

    props = _meta().to_props()
    assert migrate_props(props, FORMAT_VERSION) == props
    assert MIN_FORMAT_VERSION <= FORMAT_VERSION
    for bad in ("0", "-7", "1.5", ""):
        props[PREFIX + "format_version"] = bad
        with pytest.raises(MetadataError, match="format version"):
            ModelMetadata.from_props(props)
    meta = _meta()
    assert validate_metadata(meta) == meta


@pytest.mark.parametrize(
    ("field", "value", "match"),
    [
        ("threshold", float("nan"), "threshold"),
        ("threshold", 0.0, "threshold"),
        ("threshold", -1.0, "threshold"),
        ("heatmap_vmax", float("inf"), "heatmap_vmax"),
        ("model_name", "x" * 201, "model_name is 201 characters"),
        ("description", "d" * 10_001, "description"),
        ("loss_weights", {"mse": float("nan")}, "loss weights"),
        ("data", [1, 2], "data must be a JSON object"),
    ],
)
def test_validation_refusals(field: str, value: object, match: str) -> None:
    from dataclasses import replace

    from desktop_app.core.model.metadata import validate_metadata

    with pytest.raises(MetadataError, match=match):
        validate_metadata(replace(_meta(), **{field: value}))


def test_every_problem_is_named_at_once() -> None:
    from dataclasses import replace

    from desktop_app.core.model.metadata import validate_metadata

    meta = _meta()
    bad = replace(meta, threshold=float("inf"),
                  benign_stats=replace(meta.benign_stats, sd=0.0, mean=float("nan")))
    with pytest.raises(MetadataError) as info:
        validate_metadata(bad)
    text = str(info.value)
    assert "threshold" in text and "benign sd" in text and "benign mean" in text


def test_text_fields_lose_control_characters() -> None:
    from dataclasses import replace

    from desktop_app.core.model.metadata import validate_metadata

    meta = validate_metadata(replace(_meta(), model_name=" \x1b[1mCAE\x1b[0m\n",
                                     threshold_rule="mean\t+ alpha\u202e"))
    assert meta.model_name == "[1mCAE[0m" and meta.threshold_rule == "mean+ alpha"


def test_json_depth_is_measured_without_parsing() -> None:
    from desktop_app.core.model.metadata_checks import (
        MAX_JSON_DEPTH,
        JsonShapeError,
        bounded_json,
        json_depth,
    )

    assert json_depth('{"a": [1, {"b": "[[[[not nesting]]"}]}') == 3
    assert json_depth('"only a string with \\" and [["') == 0
    assert bounded_json("[" * MAX_JSON_DEPTH + "]" * MAX_JSON_DEPTH) is not None
    with pytest.raises(JsonShapeError, match="nested 33 levels deep"):
        bounded_json("[" * 33 + "]" * 33)
    with pytest.raises(JsonShapeError, match="not valid JSON"):
        bounded_json("[1,")


def test_shipped_models_pass_the_operating_point_checks() -> None:
    """The checks refuse hostile values, never the real models' own."""
    from desktop_app.core.base.paths import bundled_models_dir
    from desktop_app.core.model.metadata_checks import (
        evaluation_problems,
        extra_problems,
        operating_point_problems,
    )
    from desktop_app.core.model.model_file import read_metadata_props

    models = sorted(bundled_models_dir().glob("*.onnx"))
    assert len(models) >= 2
    for path in models:
        meta = ModelMetadata.from_props(read_metadata_props(path))
        assert len(meta.operating_points) > 5
        assert operating_point_problems(meta.operating_points) == []
        assert extra_problems(meta.extra) == [] and evaluation_problems(meta.evaluation) == []
