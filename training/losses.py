"""SSIM, MSE and THE hybrid score, written so that tf2onnx converts them.

``tf.image.ssim`` does not convert to ONNX (TOOLCHAIN.md), so SSIM is rebuilt
here from a constant numpy Gaussian window and a VALID depthwise convolution,
following ``tf.image.ssim`` (Wang et al. 2004: 11x11 window, sigma 1.5,
K1 0.01, K2 0.03) so both agree. All ops are fp32. The same
:func:`hybrid_score` is the training loss, the threshold's score, the
evaluation's score and the exported ``score`` output.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

WINDOW_SIZE = 11
WINDOW_SIGMA = 1.5
K1 = 0.01
K2 = 0.03
MAX_VAL = 1.0
DEFAULT_W_MSE = 0.4
DEFAULT_W_SSIM = 0.6
PAD = WINDOW_SIZE // 2


def gaussian_window(size: int = WINDOW_SIZE, sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 2-D Gaussian window (size, size), float32, built as tf.image.ssim builds it."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    window = np.outer(g, g)
    return (window / window.sum()).astype(np.float32)


def _depthwise_kernel(channels: int) -> tf.Tensor:
    # A numpy constant, so the exported graph holds a fixed [11, 11, C, 1] filter.
    window = gaussian_window()
    kernel = np.tile(window[:, :, None, None], (1, 1, channels, 1)).astype(np.float32)
    return tf.constant(kernel)


def _blur(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    return tf.nn.depthwise_conv2d(x, kernel, strides=[1, 1, 1, 1], padding="VALID")


def _channels(x: tf.Tensor) -> int:
    c = x.shape[-1]
    return 3 if c is None else int(c)


def ssim_map(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Local SSIM, VALID window, averaged over channels: [N, H, W, C] -> [N, H-10, W-10].

    The second moments are taken about each image's per-channel mean: the same
    SSIM mathematically, but var = E[x^2] - mu^2 then subtracts two numbers of
    similar size far less often, which keeps TensorFlow's and ONNX Runtime's
    fp32 results within the export's 1e-5 score gate.
    """
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    kernel = _depthwise_kernel(_channels(x))
    c1 = (K1 * MAX_VAL) ** 2
    c2 = (K2 * MAX_VAL) ** 2
    m = tf.reduce_mean(x, axis=[1, 2], keepdims=True)
    xc = x - m
    yc = y - m
    mu_xc = _blur(xc, kernel)
    mu_yc = _blur(yc, kernel)
    mu_x = mu_xc + m
    mu_y = mu_yc + m
    luminance = (2.0 * mu_x * mu_y + c1) / (tf.square(mu_x) + tf.square(mu_y) + c1)
    cov = _blur(xc * yc, kernel) - mu_xc * mu_yc
    var_sum = _blur(tf.square(xc) + tf.square(yc), kernel) - tf.square(mu_xc) - tf.square(mu_yc)
    contrast_structure = (2.0 * cov + c2) / (var_sum + c2)
    return tf.reduce_mean(luminance * contrast_structure, axis=-1)


def ssim(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean SSIM per image [N] (equals tf.image.ssim with max_val 1.0)."""
    return tf.reduce_mean(ssim_map(x, y), axis=[1, 2])


def mse(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean squared error per image [N]."""
    diff = tf.cast(x, tf.float32) - tf.cast(y, tf.float32)
    return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


def hybrid_score(
    x: tf.Tensor, y: tf.Tensor, w_mse: float = DEFAULT_W_MSE, w_ssim: float = DEFAULT_W_SSIM
) -> tf.Tensor:
    """THE anomaly score [N]: w_mse * MSE + w_ssim * (1 - SSIM)."""
    return w_mse * mse(x, y) + w_ssim * (1.0 - ssim(x, y))


def error_map(
    x: tf.Tensor, y: tf.Tensor, w_mse: float = DEFAULT_W_MSE, w_ssim: float = DEFAULT_W_SSIM
) -> tf.Tensor:
    """Per-pixel error [N, H, W]: w_mse * mean_c (x-y)^2 + w_ssim * (1 - SSIM map).

    The VALID SSIM map is 10 px smaller; it is REFLECT-padded 5 px per side back
    to H x W (MirrorPad REFLECT converts to ONNX Pad mode "reflect").
    """
    diff = tf.cast(x, tf.float32) - tf.cast(y, tf.float32)
    sq = tf.reduce_mean(tf.square(diff), axis=-1)
    local = tf.pad(ssim_map(x, y), [[0, 0], [PAD, PAD], [PAD, PAD]], mode="REFLECT")
    return w_mse * sq + w_ssim * (1.0 - local)


def hybrid_loss(
    w_mse: float = DEFAULT_W_MSE, w_ssim: float = DEFAULT_W_SSIM
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Keras loss: the batch mean of :func:`hybrid_score` (target first, reconstruction second)."""

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(hybrid_score(y_true, y_pred, w_mse, w_ssim))

    loss.__name__ = "hybrid_loss"
    return loss
