"""Keras -> ONNX conversion and the parity gate, on small untrained CAEs and real images.

These use a narrow CAE (few filters) so each conversion takes a second or two;
the full-width trained model is covered by test_roundtrip.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import INPUT_NAME, OUTPUT_NAMES, ModelMetadata
from desktop_app.core.model.model_file import load_model, read_metadata
from desktop_app.core.model.score_stats import BenignStats
from export.convert import build_onnx, convert_to_onnx, export_model
from export.parity import ParityError, keras_outputs, load_parity_images
from training import losses
from training.model import build_cae
from training.scorer import clear_activity_regularizers, wrap_cae

# Untrained models are held to the same 1e-5 score gate as trained ones.
UNTRAINED_SCORE_TOL = 1e-5


def _tiny_cae() -> keras.Model:
    keras.utils.set_random_seed(11)
    return build_cae(filters=(4, 8, 16), latent_dim=8)


@pytest.fixture(scope="module")
def images(isic9_test_files: list[Path]) -> np.ndarray:
    """Six real Test images, preprocessed as the app does."""
    step = len(isic9_test_files) // 6
    return load_parity_images(isic9_test_files[::step][:6], PreprocessConfig())


@pytest.fixture(scope="module")
def metadata() -> ModelMetadata:
    stats = BenignStats.from_scores([0.20, 0.21, 0.25, 0.22, 0.24], alpha=1.3)
    return ModelMetadata(
        model_name="tiny",
        model_version="0.1",
        created="2026-11-25T00:00:00+00:00",
        threshold=stats.threshold(),
        benign_stats=stats,
        loss_weights={"mse": 0.4, "ssim": 0.6},
        preprocess=PreprocessConfig(),
        heatmap_vmax=0.5,
        extra={"purpose": "test"},
    )


def test_wrapper_outputs_are_the_training_score(images: np.ndarray) -> None:
    cae = _tiny_cae()
    wrapper = wrap_cae(cae, 0.3, 0.7)
    out = keras_outputs(wrapper, images)
    recon = cae(images, training=False)
    np.testing.assert_allclose(out["reconstruction"], recon.numpy(), atol=1e-7)
    expected_score = losses.hybrid_score(tf.constant(images), recon, 0.3, 0.7).numpy()
    np.testing.assert_allclose(out["score"], expected_score, rtol=1e-6)
    expected_map = losses.error_map(tf.constant(images), recon, 0.3, 0.7).numpy()
    np.testing.assert_allclose(out["error_map"], expected_map, atol=1e-6)
    assert out["score"].shape == (6,) and out["error_map"].shape == (6, 128, 128)


def test_activity_regularizer_is_cleared() -> None:
    cae = _tiny_cae()
    assert cae.get_layer("bottleneck").activity_regularizer is not None
    assert clear_activity_regularizers(cae) == 1
    assert cae.get_layer("bottleneck").activity_regularizer is None


def test_converted_graph_follows_the_contract() -> None:
    proto = convert_to_onnx(wrap_cae(_tiny_cae(), 0.4, 0.6))
    assert [i.name for i in proto.graph.input] == [INPUT_NAME]
    assert sorted(o.name for o in proto.graph.output) == sorted(OUTPUT_NAMES)
    dims = {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*proto.graph.input, *proto.graph.output]
    }
    assert dims == {
        "image": ["N", 128, 128, 3],
        "reconstruction": ["N", 128, 128, 3],
        "error_map": ["N", 128, 128],
        "score": ["N"],
    }
    # fp32 throughout: no half-precision tensor anywhere in the graph.
    types = {t.data_type for t in proto.graph.initializer}
    assert onnx.TensorProto.FLOAT16 not in types


def test_export_writes_model_sidecar_and_metadata(
    images: np.ndarray, metadata: ModelMetadata, tmp_path: Path
) -> None:
    wrapper = wrap_cae(_tiny_cae(), 0.4, 0.6)
    out = export_model(
        wrapper, metadata, tmp_path / "sub" / "tiny.onnx", images, score_tol=UNTRAINED_SCORE_TOL
    )
    assert out == tmp_path / "sub" / "tiny.onnx"
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    assert sidecar_path(out).read_text(encoding="utf-8") == f"{digest}  tiny.onnx\n"
    assert read_metadata(out) == metadata
    model = load_model(out, prefer_gpu=False)
    assert model.sha256 == digest
    ref = keras_outputs(wrapper, images)
    got = model.run(images, OUTPUT_NAMES)
    assert np.max(np.abs(got["score"] - ref["score"])) <= UNTRAINED_SCORE_TOL
    assert np.max(np.abs(got["reconstruction"] - ref["reconstruction"])) <= 1e-4
    assert sorted(p.name for p in out.parent.iterdir()) == ["tiny.onnx", "tiny.onnx.sha256"]


def test_failed_parity_gate_writes_nothing(
    images: np.ndarray, metadata: ModelMetadata, tmp_path: Path
) -> None:
    out = tmp_path / "gated.onnx"
    out.write_bytes(b"previous model")
    wrapper = wrap_cae(_tiny_cae(), 0.4, 0.6)
    with pytest.raises(ParityError, match="parity gate failed") as info:
        export_model(wrapper, metadata, out, images, score_tol=0.0)
    assert "score" in str(info.value)
    assert out.read_bytes() == b"previous model"  # untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gated.onnx"]  # no sidecar, no temp


def test_perturbed_reference_fails_the_gate(images: np.ndarray, metadata: ModelMetadata) -> None:
    """A graph whose weights drifted from the Keras model is caught at default tolerances."""
    cae = _tiny_cae()
    wrapper = wrap_cae(cae, 0.4, 0.6)
    model_bytes, report = build_onnx(wrapper, metadata, images, score_tol=UNTRAINED_SCORE_TOL)
    assert report.passed and report.n_images == 6
    layer = cae.get_layer("reconstruction")  # the CAE's last convolution
    kernel, bias = layer.get_weights()
    layer.set_weights([kernel, bias + 0.05])
    from export.parity import check_parity

    with pytest.raises(ParityError):
        check_parity(wrapper, model_bytes, images, score_tol=UNTRAINED_SCORE_TOL)


def test_any_wrapper_with_the_contract_exports(
    images: np.ndarray, metadata: ModelMetadata, tmp_path: Path
) -> None:
    """A scorer that fuses the reconstruction score with another in-graph term."""
    cae = _tiny_cae()
    base = wrap_cae(cae, 0.4, 0.6)
    image = keras.Input((128, 128, 3), name=INPUT_NAME)
    parts = base(image)

    class Fuse(keras.layers.Layer):
        def call(self, score: tf.Tensor, image: tf.Tensor) -> tf.Tensor:
            return score + 0.25 * tf.math.reduce_std(image, axis=[1, 2, 3])

    outputs = {
        "reconstruction": keras.layers.Identity(name="reconstruction")(parts["reconstruction"]),
        "error_map": keras.layers.Identity(name="error_map")(parts["error_map"]),
        "score": Fuse(name="score")(parts["score"], image),
    }
    fused = keras.Model(image, outputs)
    out = export_model(
        fused, metadata, tmp_path / "fused.onnx", images, score_tol=UNTRAINED_SCORE_TOL
    )
    got = load_model(out, prefer_gpu=False).run(images)["score"]
    ref = keras_outputs(fused, images)["score"]
    plain = keras_outputs(base, images)["score"]
    np.testing.assert_allclose(got, ref, atol=UNTRAINED_SCORE_TOL)
    assert np.all(np.abs(got - plain) > 1e-3)  # the fused term really is in the graph


def test_wrapper_without_the_contract_is_refused(
    images: np.ndarray, metadata: ModelMetadata, tmp_path: Path
) -> None:
    cae = _tiny_cae()
    image = keras.Input((128, 128, 3), name=INPUT_NAME)
    only_recon = keras.Model(image, {"reconstruction": cae(image)})
    with pytest.raises(ValueError, match="outputs"):
        export_model(only_recon, metadata, tmp_path / "x.onnx", images, score_tol=1.0)
    small = build_cae(size=64, filters=(4, 8, 16), latent_dim=8)
    with pytest.raises(ValueError, match="size"):
        export_model(wrap_cae(small, 0.4, 0.6), metadata, tmp_path / "x.onnx", images)
    assert not (tmp_path / "x.onnx").exists()
