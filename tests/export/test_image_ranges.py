"""``python -m export.image_ranges``: the committed drift ranges are reproducible from the
committed validation split with the app's own decoder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from desktop_app.core.base.paths import bundled_models_dir, resources_dir
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.inference.drift import RANGES_FILE
from export.image_ranges import main
from tests.support.data import DATA


def test_reference_model_ranges_reproduce(tmp_path: Path) -> None:
    model = bundled_models_dir() / "dermscreen-reference.onnx"
    out = tmp_path / "ranges.json"
    assert main([str(model), "--data", str(DATA), "--splits", "isic9-validation",
                 "--out", str(out)]) == 0
    sha = file_sha256(model)
    fresh = json.loads(out.read_text(encoding="utf-8"))[sha]
    committed = json.loads((resources_dir() / RANGES_FILE).read_text(encoding="utf-8"))[sha]
    assert fresh["n"] == committed["n"] > 1000
    for name, entry in committed["stats"].items():
        assert fresh["stats"][name] == pytest.approx(entry), name
