"""A semi-supervised model's metadata and card say that malignant images trained it."""

from __future__ import annotations

from pathlib import Path

from export.metadata import build_metadata
from export.model_card import render_model_card
from training.run import load_run


def test_card_and_metadata_say_malignant_images_were_used(known_anomaly_run_dir: Path) -> None:
    info = load_run(known_anomaly_run_dir)
    md = build_metadata(info, name="DermScreen CAE SS", version="0.0.1")
    known = md.extra["training"]["known_anomalies"]
    trained = info.config["known_anomalies"]["train_files"]
    assert known["n_train"] == len(trained) > 0
    assert known["train_images"] == sorted(Path(r["path"]).name for r in trained)
    assert not any("/" in name for name in known["train_images"])  # no machine paths travel
    card = render_model_card(md, file_name="ss.onnx", sha256="0" * 64)
    assert f"this model trained on {len(trained)} labelled malignant images" in card
    assert "not a benign-only anomaly detector" in card
    assert "which the autoencoder never trains on" not in card
    assert "lesions only" not in card


def test_an_unsupervised_card_says_nothing_of_known_anomalies(small_run_dir: Path) -> None:
    card = render_model_card(build_metadata(load_run(small_run_dir)), file_name="m.onnx")
    assert "labelled malignant images" not in card
    assert "which the autoencoder never trains on" in card
    assert "reconstruct **benign** lesions only" in card
