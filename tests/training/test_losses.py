"""The ONNX-friendly SSIM and THE hybrid score against TensorFlow's reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from desktop_app.core.model.metadata import SsimWindow
from desktop_app.core.model.metadata import ssim_window_size as window_size
from training.losses import (
    error_map,
    gaussian_window,
    hybrid_loss,
    hybrid_score,
    mse,
    ssim,
    ssim_map,
)


@pytest.fixture(scope="module")
def image_pairs(isic9_test_files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Real preprocessed lesions and degraded copies (noise, blur, shift) as 'reconstructions'."""
    cfg = PreprocessConfig()
    x = np.stack([preprocess_file(p, cfg) for p in isic9_test_files[::20][:6]])
    rng = np.random.default_rng(0)
    noisy = np.clip(x + rng.normal(0, 0.05, x.shape), 0, 1)
    blurred = tf.nn.avg_pool2d(x, 5, 1, "SAME").numpy()
    shifted = np.roll(x, 3, axis=2)
    y = np.concatenate([noisy[:2], blurred[2:4], shifted[4:]]).astype(np.float32)
    return x.astype(np.float32), y


def test_gaussian_window_matches_wang_et_al() -> None:
    w = gaussian_window()
    assert w.shape == (11, 11)
    assert w.dtype == np.float32
    assert w.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(w, w.T)
    # Ratio of centre to a neighbour is exp(1 / (2 sigma^2)) for sigma 1.5.
    assert w[5, 5] / w[5, 6] == pytest.approx(np.exp(1 / (2 * 1.5**2)), rel=1e-5)


def test_ssim_matches_tf_image_ssim(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    ours = ssim(x, y).numpy()
    ref = tf.image.ssim(x, y, max_val=1.0).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ours.shape == (len(x),)
    assert np.all(ours < 0.999)  # the degradations really changed the images


def test_ssim_map_is_valid_sized_and_one_for_identical(
    image_pairs: tuple[np.ndarray, np.ndarray],
) -> None:
    x, _ = image_pairs
    m = ssim_map(x, x).numpy()
    assert m.shape == (len(x), 118, 118)
    np.testing.assert_allclose(m, 1.0, atol=1e-5)


def test_mse_and_hybrid_score(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    np.testing.assert_allclose(mse(x, y).numpy(), ((x - y) ** 2).mean(axis=(1, 2, 3)), rtol=1e-5)
    expected = 0.4 * mse(x, y).numpy() + 0.6 * (1 - tf.image.ssim(x, y, 1.0).numpy())
    np.testing.assert_allclose(hybrid_score(x, y).numpy(), expected, atol=1e-4)
    weighted = hybrid_score(x, y, 0.8, 0.2).numpy()
    np.testing.assert_allclose(weighted, 0.8 * mse(x, y).numpy() + 0.2 * (1 - ssim(x, y).numpy()), rtol=1e-5)
    np.testing.assert_allclose(hybrid_score(x, x).numpy(), 0.0, atol=1e-5)


def test_error_map_composition(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    em = error_map(x, y).numpy()
    assert em.shape == (len(x), 128, 128)
    assert np.all(np.isfinite(em))
    sq = ((x - y) ** 2).mean(axis=-1)
    local = ssim_map(x, y).numpy()
    # Interior: exactly the VALID map; border: reflected copies of it.
    np.testing.assert_allclose(em[:, 5:-5, 5:-5], 0.4 * sq[:, 5:-5, 5:-5] + 0.6 * (1 - local), atol=1e-5)
    np.testing.assert_allclose(em[:, 4, 5:-5] - 0.4 * sq[:, 4, 5:-5], 0.6 * (1 - local[:, 1]), atol=1e-5)
    np.testing.assert_allclose(error_map(x, x).numpy(), 0.0, atol=1e-5)


def test_hybrid_loss_is_batch_mean_of_score(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    loss = hybrid_loss(0.4, 0.6)
    assert float(loss(x, y)) == pytest.approx(float(hybrid_score(x, y).numpy().mean()), rel=1e-5)
    assert loss.__name__ == "hybrid_loss"


@pytest.mark.parametrize(("sigma", "size"), [(1.5, 11), (3.0, 19), (8.0, 49)])
def test_wider_ssim_window_matches_tf_image_ssim(
    image_pairs: tuple[np.ndarray, np.ndarray], sigma: float, size: int
) -> None:
    x, y = image_pairs
    assert window_size(sigma) == size
    w = SsimWindow(sigma)
    ours = ssim(x, y, w).numpy()
    ref = tf.image.ssim(x, y, max_val=1.0, filter_size=size, filter_sigma=sigma).numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-4)
    assert ssim_map(x, y, w).shape == (len(x), 129 - size, 129 - size)
    em = error_map(x, y, 0.4, 0.6, w).numpy()
    assert em.shape == (len(x), 128, 128)
    assert np.all(np.isfinite(em))
    score = hybrid_score(x, y, 0.4, 0.6, w).numpy()
    np.testing.assert_allclose(score, 0.4 * mse(x, y).numpy() + 0.6 * (1 - ref), atol=1e-4)


def test_the_window_scale_changes_the_score(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    wide = SsimWindow(8.0)
    fine, coarse = hybrid_score(x, y).numpy(), hybrid_score(x, y, window=wide).numpy()
    assert not np.allclose(fine, coarse, atol=1e-3)
    assert float(hybrid_loss(0.4, 0.6, wide)(x, y)) == pytest.approx(float(coarse.mean()), rel=1e-5)


def test_reflected_border_compares_the_whole_image(image_pairs: tuple[np.ndarray, np.ndarray]) -> None:
    x, y = image_pairs
    w = SsimWindow(8.0, "reflect")
    p = w.size // 2
    m = ssim_map(x, y, w).numpy()
    assert m.shape == (len(x), 128, 128)
    # SSIM of the mirrored images: tf.image.ssim on explicitly padded copies agrees.
    pad = [(0, 0), (p, p), (p, p), (0, 0)]
    xp, yp = np.pad(x, pad, mode="reflect"), np.pad(y, pad, mode="reflect")
    ref = tf.image.ssim(xp, yp, max_val=1.0, filter_size=w.size, filter_sigma=8.0).numpy()
    np.testing.assert_allclose(ssim(x, y, w).numpy(), ref, atol=1e-4)
    em = error_map(x, y, 0.4, 0.6, w).numpy()
    np.testing.assert_allclose(em, 0.4 * ((x - y) ** 2).mean(-1) + 0.6 * (1 - m), atol=1e-5)
    # Damage confined to the image frame lowers the reflected SSIM.
    y_edge = y.copy()
    y_edge[:, :4] = 1.0 - y_edge[:, :4]
    assert np.all(ssim(x, y_edge, w).numpy() < ssim(x, y, w).numpy())


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_bad_sigma_is_refused(sigma: float) -> None:
    with pytest.raises(ValueError, match="sigma must be positive"):
        window_size(sigma)
    with pytest.raises(ValueError, match="sigma must be above 0"):
        SsimWindow(sigma)


def test_bad_border_is_refused() -> None:
    with pytest.raises(ValueError, match="border"):
        SsimWindow(1.5, "same")
    assert SsimWindow.from_dict(SsimWindow(3.0, "reflect").to_dict()) == SsimWindow(3.0, "reflect")
    assert SsimWindow.from_dict({}) == SsimWindow()  # models exported before the option
