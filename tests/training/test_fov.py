"""The field-of-view mask on real vignetted images, in Keras and through ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import tensorflow as tf

from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.score_stats import BenignStats
from export.convert import build_onnx
from export.parity import load_parity_images
from training import losses
from training.fov import FieldOfView, inside_mask, max_filter
from training.model import build_cae
from training.scorer import wrap_cae

# isic9 Test images with a black dermoscope vignette (issue 13), and two without.
VIGNETTED = ("melanoma/ISIC_0000004.jpg", "melanoma/ISIC_0000036.jpg", "nevus/ISIC_0000005.jpg")
PLAIN = ("actinic keratosis/ISIC_0010512.jpg", "actinic keratosis/ISIC_0024468.jpg")


@pytest.fixture(scope="module")
def images(isic9_dir: Path) -> np.ndarray:
    return load_parity_images([isic9_dir / "Test" / f for f in VIGNETTED + PLAIN], PreprocessConfig())


def _cv2_outside(x: np.ndarray, dark: float) -> np.ndarray:
    """Dark pixels 8-connected to the border, by OpenCV (an independent flood fill)."""
    mask = (x.max(-1) < dark).astype(np.uint8)
    _, lab = cv2.connectedComponents(mask, connectivity=8)
    border = set(np.unique(np.r_[lab[0], lab[-1], lab[:, 0], lab[:, -1]]).tolist()) - {0}
    return np.isin(lab, sorted(border)) & (mask > 0)


def test_mask_finds_the_vignette_and_spares_plain_images(images: np.ndarray) -> None:
    fov = FieldOfView(margin=0, iterations=128)
    inside = inside_mask(tf.constant(images), fov).numpy()
    for i, x in enumerate(images):
        np.testing.assert_array_equal(inside[i] == 0, _cv2_outside(x, fov.dark))
    assert all(inside[i].mean() < 0.9 for i in range(3))  # vignettes: >10% left out
    assert all(inside[i].mean() == 1.0 for i in range(3, 5))


def test_margin_grows_the_vignette(images: np.ndarray) -> None:
    tight = inside_mask(tf.constant(images[:1]), FieldOfView(margin=0)).numpy()
    loose = inside_mask(tf.constant(images[:1]), FieldOfView(margin=4)).numpy()
    assert loose.sum() < tight.sum() and np.all(loose <= tight)


def test_an_all_dark_image_is_scored_whole() -> None:
    dark = np.zeros((1, 32, 32, 3), np.float32)
    assert inside_mask(tf.constant(dark), FieldOfView()).numpy().min() == 1.0


def test_masked_score_ignores_the_vignette_and_equals_plain_score_without_one(images: np.ndarray) -> None:
    x = tf.constant(images)
    recon = tf.constant(np.clip(images + 0.05, 0, 1))
    fov = FieldOfView()
    plain = losses.hybrid_score(x, recon, 0.4, 0.6).numpy()
    masked = losses.hybrid_score(x, recon, 0.4, 0.6, fov=fov).numpy()
    np.testing.assert_allclose(masked[3:], plain[3:], rtol=1e-5)
    # Wreck the reconstruction on the vignette only: the masked score does not move.
    outside = (inside_mask(x, fov).numpy() == 0)[..., None]
    wrecked = tf.constant(np.where(outside, 1.0, recon.numpy()).astype(np.float32))
    again = losses.hybrid_score(x, wrecked, 0.4, 0.6, fov=fov).numpy()
    assert np.all(losses.hybrid_score(x, wrecked, 0.4, 0.6).numpy()[:3] > plain[:3])
    np.testing.assert_allclose(again[:3], masked[:3], rtol=1e-5)
    error = losses.error_map(x, wrecked, 0.4, 0.6, fov=fov).numpy()
    assert np.all(error[outside[..., 0]] == 0.0)


def test_exported_graph_carries_the_mask(images: np.ndarray) -> None:
    import onnxruntime as ort

    keras_cae = build_cae(filters=(4, 8, 16), latent_dim=8)
    wrapper = wrap_cae(keras_cae, 0.4, 0.6, fov=FieldOfView())
    stats = BenignStats.from_scores([0.20, 0.21, 0.25, 0.22, 0.24], alpha=1.3)
    md = ModelMetadata(
        model_name="tiny-fov", model_version="0.1", created="2026-12-01T00:00:00+00:00",
        threshold=stats.threshold(), benign_stats=stats, loss_weights={"mse": 0.4, "ssim": 0.6},
        preprocess=PreprocessConfig(), heatmap_vmax=0.5,
    )
    model_bytes, report = build_onnx(wrapper, md, images)  # passes the 1e-5 parity gate
    session = ort.InferenceSession(model_bytes, providers=["CPUExecutionProvider"])
    error_map = session.run(["error_map"], {"image": images})[0]
    outside = inside_mask(tf.constant(images), FieldOfView()).numpy() == 0
    assert outside[:3].any() and np.all(error_map[outside] == 0.0)
    assert report is not None


@pytest.mark.parametrize(("size", "padding"), [(3, "SAME"), (11, "VALID"), (11, "SAME"), (4, "SAME")])
def test_max_filter_is_the_max_pool_it_replaces(size: int, padding: str) -> None:
    """Shifted maxima give max pooling's values exactly, edges and even sizes included."""
    rng = np.random.default_rng(size)
    mask = (rng.random((2, 29, 23, 1)) > 0.9).astype(np.float32)
    expected = tf.nn.max_pool2d(mask, ksize=size, strides=1, padding=padding).numpy()
    got = max_filter(tf.constant(mask), size, padding).numpy()
    assert got.shape == expected.shape
    np.testing.assert_array_equal(got, expected)
    assert got.mean() > mask.mean()  # it did grow the mask (the check is not vacuous)
