"""The dermoscope's field of view, found inside the graph: score the lesion, not the vignette.

Many dermoscopic images have a black vignette or a circular aperture: near-black
pixels connected to the image border. The CAE reconstructs them poorly (a
saturated heatmap over the corners while the lesion is dark), so they inflate
the score. :func:`inside_mask` marks the field of view with TensorFlow ops that
tf2onnx converts (Reduce, Less, Pad, Slice, Max, Mul): near-black pixels are
flood-filled from the border by a repeated 3x3 max filter restricted to dark
pixels (geodesic dilation), then grown by ``margin`` pixels to drop the
vignette's soft edge too. A dark lesion in the middle of the image is not
connected to the border through near-black pixels and stays inside.

When less than ``min_inside`` of an image is inside, the whole image is used
(an all-dark image must still get a score).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import tensorflow as tf


@dataclass(frozen=True)
class FieldOfView:
    """Parameters of the field-of-view mask (stored in run.json and the model's metadata)."""

    dark: float = 0.12  # max over RGB below this (images in [0, 1]) counts as vignette
    iterations: int = 48  # flood-fill steps (pixels of geodesic reach from the border)
    margin: int = 4  # pixels the vignette grows by, to drop its soft edge
    min_inside: float = 0.2

    def __post_init__(self) -> None:
        if not 0.0 < self.dark < 1.0 or self.iterations < 1 or self.margin < 0:
            msg = f"bad field-of-view parameters: {self}"
            raise ValueError(msg)
        if not 0.0 < self.min_inside < 1.0:
            msg = f"min_inside must lie in (0, 1), got {self.min_inside}"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FieldOfView | None:
        return None if data is None else cls(**data)

    def describe(self) -> str:
        return (
            f"field-of-view mask: near-black (max RGB < {self.dark:g}) pixels connected to the "
            f"border, grown by {self.margin} px, are left out of score and heatmap"
        )


def max_filter(x: tf.Tensor, size: int, padding: str) -> tf.Tensor:
    """``size`` x ``size`` max filter of a non-negative [N, H, W, 1] mask.

    The same values as ``tf.nn.max_pool2d(x, size, 1, padding)`` ("SAME" pads with
    zeros, which cannot win on a non-negative mask), written as the maximum of
    shifted slices one axis at a time: TensorFlow's single-channel max pooling made
    the field-of-view loss several times slower to train (25 ms per pooling of a
    32-image batch; the 52 dilations plus the SSIM-window mask took 1.8 s a batch).
    """
    import tensorflow as tf

    if padding not in ("SAME", "VALID"):
        msg = f"padding must be 'SAME' or 'VALID', got {padding!r}"
        raise ValueError(msg)
    for axis in (1, 2):
        if padding == "SAME":
            before = (size - 1) // 2
            pads = [[0, 0]] * 4
            pads[axis] = [before, size - 1 - before]
            x = tf.pad(x, pads)
        out = None
        for k in range(size):
            stop = k - (size - 1) or None  # the last shift runs to the end
            part = x[:, k:stop] if axis == 1 else x[:, :, k:stop]
            out = part if out is None else tf.maximum(out, part)
        x = out
    return x


def inside_mask(x: tf.Tensor, fov: FieldOfView) -> tf.Tensor:
    """[N, H, W, C] image -> [N, H, W] float mask, 1 inside the field of view, 0 on the vignette."""
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    dark = tf.cast(tf.reduce_max(x, axis=-1, keepdims=True) < fov.dark, tf.float32)
    interior = tf.pad(tf.ones_like(dark)[:, 1:-1, 1:-1, :], [[0, 0], [1, 1], [1, 1], [0, 0]])
    outside = dark * (1.0 - interior)  # dark border pixels seed the fill
    for _ in range(fov.iterations):
        outside = max_filter(outside, 3, "SAME") * dark
    for _ in range(fov.margin):
        outside = max_filter(outside, 3, "SAME")
    return whole_if_small(1.0 - outside[..., 0], fov)


def whole_if_small(inside: tf.Tensor, fov: FieldOfView) -> tf.Tensor:
    """Too little left inside (an all-dark image): use the whole image instead."""
    import tensorflow as tf

    too_small = tf.cast(tf.reduce_mean(inside, axis=[1, 2], keepdims=True) < fov.min_inside, tf.float32)
    return tf.maximum(inside, too_small)


def windows_inside(inside: tf.Tensor, size: int, padding: str, fov: FieldOfView) -> tf.Tensor:
    """Mask of the SSIM map: 1 where the whole ``size`` x ``size`` window lies inside.

    ``padding`` VALID gives the valid SSIM map's shape, SAME the full one; so the
    vignette cannot reach the score through a window that straddles its edge.
    """
    grown = max_filter(1.0 - inside[..., None], size, padding)
    return whole_if_small(1.0 - grown[..., 0], fov)


def masked_mean(values: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    """Mean of [N, H, W] ``values`` over the mask's pixels, per image [N]."""
    import tensorflow as tf

    return tf.reduce_sum(values * mask, axis=[1, 2]) / tf.maximum(tf.reduce_sum(mask, axis=[1, 2]), 1.0)
