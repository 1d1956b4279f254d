"""Hand-made lesion features of the 128x128 model input, written as TF ops that export to ONNX.

Every function maps a float32 ``[N, H, W, 3]`` batch in [0, 1] to ``[N, k]`` features and
uses only ops tf2onnx converts (reductions, element-wise maths, constant convolutions,
negative-stride slices). Nothing here is fitted: the benign statistics the features are
scored against live in :mod:`training.improved.fusion` as graph constants.

The groups follow the dermoscopic ABCD rule in spirit:

* ``colour``     global and lesion/skin colour statistics
* ``shape``      lesion area, asymmetry under flips, border irregularity
* ``texture``    gradient energy inside the lesion at several scales
* ``palette``    soft counts of the dermoscopic colours (variegation) and their entropy
* ``histogram``  a soft 4x4x4 RGB histogram of the lesion
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

BORDER = 8  # pixels of the frame taken as surrounding skin
MASK_SOFTNESS = 0.03  # colour-distance units over which the lesion mask goes 0 -> 1
EPS = 1e-6

# Dermoscopic colours (RGB in [0, 1]) of the ABCD/7-point checklists: white, red,
# light brown, dark brown, blue-grey, black.
PALETTE = np.array(
    [
        [0.95, 0.93, 0.90],
        [0.80, 0.25, 0.25],
        [0.70, 0.45, 0.30],
        [0.35, 0.20, 0.12],
        [0.40, 0.45, 0.55],
        [0.08, 0.06, 0.06],
    ],
    dtype=np.float32,
)
PALETTE_SOFTNESS = 0.12  # colour distance at which a palette colour's weight falls to 1/e
HIST_BINS = 4

FEATURE_GROUPS = ("colour", "shape", "texture", "palette", "histogram")


def _wmean(v: tf.Tensor, w: tf.Tensor) -> tf.Tensor:
    """Weighted mean over H, W of ``v`` [N,H,W,C] with weights ``w`` [N,H,W,1] -> [N, C]."""
    return tf.reduce_sum(v * w, axis=[1, 2]) / (tf.reduce_sum(w, axis=[1, 2]) + EPS)


def _frame_weights(h: int, w: int) -> np.ndarray:
    frame = np.zeros((1, h, w, 1), dtype=np.float32)
    frame[:, :BORDER] = 1.0
    frame[:, -BORDER:] = 1.0
    frame[:, :, :BORDER] = 1.0
    frame[:, :, -BORDER:] = 1.0
    return frame


def skin_colour(x: tf.Tensor) -> tf.Tensor:
    """Mean colour of the image frame [N, 3]: the surrounding skin."""
    frame = tf.constant(_frame_weights(int(x.shape[1]), int(x.shape[2])))
    return _wmean(x, frame)


def lesion_mask(x: tf.Tensor) -> tf.Tensor:
    """Soft lesion mask [N, H, W, 1]: pixels whose colour differs from the skin more than average."""
    skin = skin_colour(x)[:, None, None, :]
    dist = tf.sqrt(tf.reduce_sum(tf.square(x - skin), axis=-1, keepdims=True) + EPS)
    level = tf.reduce_mean(dist, axis=[1, 2], keepdims=True)
    return tf.sigmoid((dist - level) / MASK_SOFTNESS)


def gray(x: tf.Tensor) -> tf.Tensor:
    weights = tf.constant(np.array([0.299, 0.587, 0.114], dtype=np.float32))
    return tf.reduce_sum(x * weights, axis=-1, keepdims=True)


def _grad_mag(g: tf.Tensor) -> tf.Tensor:
    """Gradient magnitude of [N,H,W,1] by forward differences, edge rows repeated."""
    dx = g[:, :, 1:, :] - g[:, :, :-1, :]
    dy = g[:, 1:, :, :] - g[:, :-1, :, :]
    dx = tf.concat([dx, dx[:, :, -1:, :]], axis=2)
    dy = tf.concat([dy, dy[:, -1:, :, :]], axis=1)
    # A tiny floor only: sqrt(EPS) per pixel summed over 16k pixels would bias the perimeter.
    return tf.sqrt(dx * dx + dy * dy + 1e-12)


def colour_features(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Global mean/sd, lesion mean/sd, skin mean, lesion-skin contrast: [N, 18]."""
    mean = tf.reduce_mean(x, axis=[1, 2])
    sd = tf.sqrt(tf.reduce_mean(tf.square(x - mean[:, None, None, :]), axis=[1, 2]) + EPS)
    les = _wmean(x, m)
    les_sd = tf.sqrt(_wmean(tf.square(x - les[:, None, None, :]), m) + EPS)
    skin = skin_colour(x)
    return tf.concat([mean, sd, les, les_sd, skin, les - skin], axis=1)


def shape_features(m: tf.Tensor) -> tf.Tensor:
    """Area fraction, left-right and up-down asymmetry, border irregularity: [N, 4]."""
    area = tf.reduce_sum(m, axis=[1, 2, 3])
    lr = tf.reduce_sum(tf.abs(m - m[:, :, ::-1, :]), axis=[1, 2, 3]) / (area + 1.0)
    ud = tf.reduce_sum(tf.abs(m - m[:, ::-1, :, :]), axis=[1, 2, 3]) / (area + 1.0)
    perimeter = tf.reduce_sum(_grad_mag(m), axis=[1, 2, 3])
    border = perimeter / tf.sqrt(area + 1.0)
    frac = area / float(int(m.shape[1]) * int(m.shape[2]))
    return tf.stack([frac, lr, ud, border], axis=1)


def texture_features(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Mean gradient magnitude of grey inside the lesion at scales 1, 2, 4, 8: [N, 4]."""
    g = gray(x)
    out = []
    mm = m
    for scale in (1, 2, 4, 8):
        if scale > 1:
            g = tf.nn.avg_pool2d(g, 2, 2, "VALID")
            mm = tf.nn.avg_pool2d(mm, 2, 2, "VALID")
        out.append(_wmean(_grad_mag(g), mm)[:, 0] * float(scale))
    return tf.stack(out, axis=1)


def palette_features(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Share of the lesion near each dermoscopic colour, and the entropy of those shares: [N, 7]."""
    pal = tf.constant(PALETTE)  # [K, 3]
    d2 = tf.reduce_sum(tf.square(x[:, :, :, None, :] - pal), axis=-1)  # [N,H,W,K]
    w = tf.exp(-d2 / (PALETTE_SOFTNESS**2))
    share = _wmean(w, m)  # [N, K]
    p = share / (tf.reduce_sum(share, axis=1, keepdims=True) + EPS)
    entropy = -tf.reduce_sum(p * tf.math.log(p + EPS), axis=1, keepdims=True)
    return tf.concat([share, entropy], axis=1)


def histogram_features(x: tf.Tensor, m: tf.Tensor) -> tf.Tensor:
    """Soft (triangular-kernel) 4x4x4 RGB histogram of the lesion, normalised: [N, 64]."""
    centres = tf.constant(np.linspace(0.0, 1.0, HIST_BINS, dtype=np.float32))
    width = 1.0 / (HIST_BINS - 1)
    # [N,H,W,3,B] membership of each channel value in each bin
    member = tf.nn.relu(1.0 - tf.abs(x[..., None] - centres) / width)
    r, g, b = member[..., 0, :], member[..., 1, :], member[..., 2, :]
    joint = r[..., :, None, None] * g[..., None, :, None] * b[..., None, None, :]
    n_bins = HIST_BINS**3
    joint = tf.reshape(joint, [-1, int(x.shape[1]), int(x.shape[2]), n_bins])
    return _wmean(joint, m)


def feature_groups(x: tf.Tensor, groups: tuple[str, ...] = FEATURE_GROUPS) -> tf.Tensor:
    """Concatenate the named feature groups for batch ``x`` -> [N, F]."""
    unknown = set(groups) - set(FEATURE_GROUPS)
    if unknown:
        msg = f"unknown feature groups {sorted(unknown)}; known: {FEATURE_GROUPS}"
        raise ValueError(msg)
    m = lesion_mask(x)
    parts = []
    for name in groups:
        if name == "colour":
            parts.append(colour_features(x, m))
        elif name == "shape":
            parts.append(shape_features(m))
        elif name == "texture":
            parts.append(texture_features(x, m))
        elif name == "palette":
            parts.append(palette_features(x, m))
        elif name == "histogram":
            parts.append(histogram_features(x, m))
    return tf.concat(parts, axis=1)


def group_sizes(groups: tuple[str, ...] = FEATURE_GROUPS) -> dict[str, int]:
    sizes = {"colour": 18, "shape": 4, "texture": 4, "palette": len(PALETTE) + 1,
             "histogram": HIST_BINS**3}
    return {g: sizes[g] for g in groups}
