"""Two fit options: hair removal at a smaller working side (issue 17) and the field of view
left out of the training loss (issue 13 item 3). Real small runs on real isic9 images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from export.metadata import build_metadata
from export.model_card import render_model_card
from tests.support.training_fixtures import train_small_run
from training import losses
from training.cache import load_tensors
from training.fit import FitConfig
from training.fov import FieldOfView
from training.run import load_run

VIGNETTED = "Test/melanoma/ISIC_0000004.jpg"


def test_a_run_at_a_smaller_hair_side_carries_it(tmp_path: Path, isic9_sample_dir: Path) -> None:
    run = train_small_run(tmp_path / "run", isic9_sample_dir, evaluate_run=False, limit=8, epochs=1,
                          hair_work_side=128)
    info = load_run(run)
    pre = PreprocessConfig.from_dict(info.config["preprocess"])
    assert pre.hair_work_max_side == 128
    assert build_metadata(info).preprocess.hair_work_max_side == 128  # what the app will apply
    # The training tensors are the app's preprocessing at that side, not the default's.
    first = Path(info.config["train_files"][0]["path"])
    [tensor] = load_tensors([first], pre, None)
    assert np.array_equal(tensor, preprocess_file(first, pre))
    assert not np.array_equal(tensor, preprocess_file(first, PreprocessConfig()))
    assert info.field_of_view is None


def test_the_fov_loss_leaves_the_vignette_out(isic9_dir: Path) -> None:
    x = preprocess_file(isic9_dir / VIGNETTED, PreprocessConfig())[None]
    y = np.clip(x + 0.1, 0.0, 1.0).astype(np.float32)
    y[:, :20, :20] = 1.0  # a bad reconstruction of the black top-left corner only
    fov = FieldOfView()
    masked = losses.hybrid_loss(fov=fov)(tf.constant(x), tf.constant(y)).numpy()
    plain = losses.hybrid_loss()(tf.constant(x), tf.constant(y)).numpy()
    expected = losses.hybrid_score(tf.constant(x), tf.constant(y), fov=fov).numpy().mean()
    assert masked == pytest.approx(expected, rel=1e-6)
    assert masked < plain  # the corner's error counts only without the mask


def test_a_fov_loss_run_scores_and_documents_it(tmp_path: Path, isic9_sample_dir: Path) -> None:
    run = train_small_run(tmp_path / "run", isic9_sample_dir, evaluate_run=False, limit=8, epochs=1,
                          fov_loss=True)
    info = load_run(run)
    assert info.field_of_view == FieldOfView()  # the threshold's and the export's score use it
    training = build_metadata(info).extra["training"]
    assert training["field_of_view_in_loss"] is True
    card = render_model_card(build_metadata(info), file_name="m.onnx")
    assert "The training loss left the vignette out" in card


@pytest.mark.parametrize(
    ("changes", "match"),
    [({"hair_work_side": 64}, "hair-work-side"), ({"hair_work_side": 5000}, "hair-work-side"),
     ({"fov_loss": True, "variational": True}, "plain CAE only"),
     ({"fov_loss": True, "known_anomalies": 0.5}, "plain CAE only")],
)
def test_bad_combinations_are_refused(changes: dict, match: str) -> None:
    cfg = FitConfig(data_dir=Path("x"), out_dir=Path("y"), **changes)
    with pytest.raises(ValueError, match=match):
        cfg.validate()
