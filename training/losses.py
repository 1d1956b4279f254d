"""SSIM, MSE and THE hybrid score, written so that tf2onnx converts them.

``tf.image.ssim`` does not convert to ONNX (TOOLCHAIN.md), so SSIM is rebuilt
here from a constant numpy Gaussian window and a VALID depthwise convolution,
following ``tf.image.ssim`` (Wang et al. 2004: 11x11 window, sigma 1.5,
K1 0.01, K2 0.03) so both agree. All ops are fp32. The same
:func:`hybrid_score` is the training loss, the threshold's score, the
evaluation's score and the exported ``score`` output.

A :class:`SsimWindow` widens the Gaussian window (size ``2 * ceil(3 * sigma) + 1``,
11 for the reference's 1.5; a wider window compares lesion structure at a
coarser scale) and says whether the images are mirrored at their borders
first (``reflect``: a full-size SSIM map). The window is applied as two 1-D
passes (a Gaussian window is separable), so 49x49 costs 98 multiplies per
pixel, not 2401.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import tensorflow as tf

from desktop_app.core.model.metadata import REFERENCE_WINDOW, SsimWindow, ssim_window_size
from training.fov import FieldOfView, inside_mask, masked_mean, windows_inside

WINDOW_SIGMA = REFERENCE_WINDOW.sigma
K1 = 0.01
K2 = 0.03
MAX_VAL = 1.0
DEFAULT_W_MSE = 0.4
DEFAULT_W_SSIM = 0.6


def gaussian_window_1d(sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian (size,), float64; its outer product is tf.image.ssim's window."""
    size = ssim_window_size(sigma)
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(coords**2) / (2.0 * sigma**2))
    return g / g.sum()


def gaussian_window(sigma: float = WINDOW_SIGMA) -> np.ndarray:
    """Normalised 2-D Gaussian window (size, size), float32, built as tf.image.ssim builds it."""
    g = gaussian_window_1d(sigma)
    return np.outer(g, g).astype(np.float32)


def _depthwise_kernels(channels: int, sigma: float) -> tuple[tf.Tensor, tf.Tensor]:
    # numpy constants, so the exported graph holds fixed [k, 1, C, 1] and [1, k, C, 1] filters.
    g = gaussian_window_1d(sigma).astype(np.float32)
    column = np.tile(g[:, None, None, None], (1, 1, channels, 1))
    row = np.tile(g[None, :, None, None], (1, 1, channels, 1))
    return tf.constant(column), tf.constant(row)


def _blur(x: tf.Tensor, kernels: tuple[tf.Tensor, tf.Tensor]) -> tf.Tensor:
    column, row = kernels
    x = tf.nn.depthwise_conv2d(x, column, strides=[1, 1, 1, 1], padding="VALID")
    return tf.nn.depthwise_conv2d(x, row, strides=[1, 1, 1, 1], padding="VALID")


def _channels(x: tf.Tensor) -> int:
    c = x.shape[-1]
    return 3 if c is None else int(c)


def ssim_map(x: tf.Tensor, y: tf.Tensor, window: SsimWindow = REFERENCE_WINDOW) -> tf.Tensor:
    """Local SSIM averaged over channels: [N, H, W, C] -> [N, H-k+1, W-k+1] (valid) or [N, H, W].

    The second moments are taken about each image's per-channel mean: the same
    SSIM mathematically, but var = E[x^2] - mu^2 then subtracts two numbers of
    similar size far less often, which keeps TensorFlow's and ONNX Runtime's
    fp32 results within the export's 1e-5 score gate.
    """
    x = tf.cast(x, tf.float32)
    y = tf.cast(y, tf.float32)
    if window.border == "reflect":
        p = window.size // 2
        x = tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
        y = tf.pad(y, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")
    kernel = _depthwise_kernels(_channels(x), window.sigma)
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


def ssim(x: tf.Tensor, y: tf.Tensor, window: SsimWindow = REFERENCE_WINDOW) -> tf.Tensor:
    """Mean SSIM per image [N] (the reference window: equals tf.image.ssim, max_val 1.0)."""
    return tf.reduce_mean(ssim_map(x, y, window), axis=[1, 2])


def mse(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
    """Mean squared error per image [N]."""
    diff = tf.cast(x, tf.float32) - tf.cast(y, tf.float32)
    return tf.reduce_mean(tf.square(diff), axis=[1, 2, 3])


def hybrid_score(
    x: tf.Tensor,
    y: tf.Tensor,
    w_mse: float = DEFAULT_W_MSE,
    w_ssim: float = DEFAULT_W_SSIM,
    window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> tf.Tensor:
    """THE anomaly score [N]: w_mse * MSE + w_ssim * (1 - SSIM).

    With ``fov`` both means are taken inside the image's field of view only
    (:mod:`training.fov`): MSE over the pixels inside, SSIM over the windows
    wholly inside.
    """
    if fov is None:
        return w_mse * mse(x, y) + w_ssim * (1.0 - ssim(x, y, window))
    mask = inside_mask(x, fov)
    diff = tf.cast(x, tf.float32) - tf.cast(y, tf.float32)
    sq = tf.reduce_mean(tf.square(diff), axis=-1)
    local = ssim_map(x, y, window)
    padding = "VALID" if window.border == "valid" else "SAME"
    ssim_mask = windows_inside(mask, window.size, padding, fov)
    return w_mse * masked_mean(sq, mask) + w_ssim * (1.0 - masked_mean(local, ssim_mask))


def error_map(
    x: tf.Tensor,
    y: tf.Tensor,
    w_mse: float = DEFAULT_W_MSE,
    w_ssim: float = DEFAULT_W_SSIM,
    window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> tf.Tensor:
    """Per-pixel error [N, H, W]: w_mse * mean_c (x-y)^2 + w_ssim * (1 - SSIM map).

    A valid SSIM map is k-1 px smaller; it is REFLECT-padded (k-1)/2 px per side
    back to H x W (MirrorPad REFLECT converts to ONNX Pad mode "reflect").
    With ``fov`` the map is zero outside the field of view (the app's heatmap too).
    """
    diff = tf.cast(x, tf.float32) - tf.cast(y, tf.float32)
    sq = tf.reduce_mean(tf.square(diff), axis=-1)
    local = ssim_map(x, y, window)
    if window.border == "valid":
        p = window.size // 2
        local = tf.pad(local, [[0, 0], [p, p], [p, p]], mode="REFLECT")
    out = w_mse * sq + w_ssim * (1.0 - local)
    return out if fov is None else out * inside_mask(x, fov)


def hybrid_loss(
    w_mse: float = DEFAULT_W_MSE,
    w_ssim: float = DEFAULT_W_SSIM,
    window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Keras loss: the batch mean of :func:`hybrid_score` (target first, reconstruction second).

    With ``fov`` the vignette is left out of the loss as it is of the score: the
    CAE spends no capacity on reconstructing black dermoscope corners.
    """

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        return tf.reduce_mean(hybrid_score(y_true, y_pred, w_mse, w_ssim, window, fov))

    loss.__name__ = "hybrid_loss"
    return loss


KNOWN_ANOMALY_CHANNEL = 3  # the training target's 4th channel: 1 on known-anomaly images


def known_anomaly_loss(
    w_mse: float = DEFAULT_W_MSE,
    w_ssim: float = DEFAULT_W_SSIM,
    window: SsimWindow = REFERENCE_WINDOW,
    margin: float = 0.2,
    weight: float = 1.0,
) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    """Semi-supervised Keras loss: benign images reconstructed, known anomalies pushed away.

    The target carries the image in channels 0-2 and a constant flag plane in
    channel 3 (1: a labelled malignant image). Benign images add their
    :func:`hybrid_score` (the reference loss); a flagged image adds
    ``weight * max(0, margin - score)``, a hinge in the spirit of Deep SAD
    (Ruff et al. 2020): the CAE learns to fail on what looks like a known
    cancer, and the score, threshold and heatmap stay the same quantity.
    """

    def loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        image = y_true[..., :KNOWN_ANOMALY_CHANNEL]
        flag = y_true[:, 0, 0, KNOWN_ANOMALY_CHANNEL]
        score = hybrid_score(image, y_pred, w_mse, w_ssim, window)
        per_image = (1.0 - flag) * score + flag * weight * tf.nn.relu(margin - score)
        return tf.reduce_mean(per_image)

    loss.__name__ = "known_anomaly_loss"
    return loss


def with_anomaly_flags(images: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """[N, H, W, 3] images and [N] flags -> the [N, H, W, 4] target of :func:`known_anomaly_loss`."""
    flags = np.asarray(flags, dtype=np.float32).reshape(-1, 1, 1, 1)
    plane = np.broadcast_to(flags, (*images.shape[:3], 1))
    return np.concatenate([images, plane], axis=-1)
