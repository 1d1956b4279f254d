"""The metadata contract round-trips through string properties and fails clearly."""

from __future__ import annotations

import pytest

from desktop_app.core.model_metadata import PREFIX, MetadataError, ModelMetadata
from desktop_app.core.preprocess import PreprocessConfig
from desktop_app.core.score_stats import BenignStats


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
