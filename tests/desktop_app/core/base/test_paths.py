"""One model-card path rule, the one export writes and the About box reads."""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir, model_card_path


def test_model_card_beside_the_model() -> None:
    assert model_card_path("/m/dermscreen-x.onnx") == Path("/m/dermscreen-x.md")
    bundled = bundled_models_dir() / DEFAULT_MODEL_NAME
    assert model_card_path(bundled).is_file()  # the shipped model has its card there
