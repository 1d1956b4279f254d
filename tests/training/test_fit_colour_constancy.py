"""A run trained with Shades of Gray records it, and its model metadata and card carry it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from export.metadata import build_metadata
from export.model_card import render_model_card
from tests.support.training_fixtures import train_small_run
from training.cache import load_tensors
from training.run import load_run


def test_a_shades_of_gray_run_carries_the_option(tmp_path: Path, isic9_sample_dir: Path) -> None:
    run = train_small_run(tmp_path / "run", isic9_sample_dir, evaluate_run=False, limit=8, epochs=1,
                          colour_constancy="shades_of_gray")
    info = load_run(run)
    pre = PreprocessConfig.from_dict(info.config["preprocess"])
    assert pre.colour_constancy == "shades_of_gray"
    md = build_metadata(info)
    assert md.preprocess.colour_constancy == "shades_of_gray"  # what the app will apply
    assert "Shades of Gray colour constancy" in render_model_card(md, file_name="m.onnx")
    # The training tensors are the app's preprocessing with that option.
    first = Path(info.config["train_files"][0]["path"])
    [tensor] = load_tensors([first], pre, None)
    assert np.array_equal(tensor, preprocess_file(first, pre))
    assert not np.array_equal(tensor, preprocess_file(first, PreprocessConfig()))
