"""The exported scorer around a trained CAE: image -> reconstruction, error map, score.

Model code (training owns it; export converts it): :class:`HybridHead` puts
``training.losses.hybrid_score`` / ``error_map`` themselves into the graph, so
the app scores exactly as training did.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

from desktop_app.core.model.metadata import (
    INPUT_NAME,
    OUTPUT_ERROR_MAP,
    OUTPUT_RECONSTRUCTION,
    OUTPUT_SCORE,
    REFERENCE_WINDOW,
    SsimWindow,
)
from training import losses
from training.fov import FieldOfView


@keras.saving.register_keras_serializable(package="dermscreen")
class HybridHead(keras.layers.Layer):
    """(image, reconstruction) -> the hybrid ``score`` [N] or ``error_map`` [N, H, W]."""

    def __init__(
        self,
        w_mse: float,
        w_ssim: float,
        kind: str,
        ssim_window: dict[str, Any] | None = None,
        field_of_view: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if kind not in (OUTPUT_SCORE, OUTPUT_ERROR_MAP):
            msg = f"kind must be {OUTPUT_SCORE!r} or {OUTPUT_ERROR_MAP!r}, got {kind!r}"
            raise ValueError(msg)
        self.w_mse = float(w_mse)
        self.w_ssim = float(w_ssim)
        # Kept as a plain dict: Keras layer configs must be JSON.
        self.window = SsimWindow.from_dict(ssim_window)
        self.fov = FieldOfView.from_dict(field_of_view)
        self.kind = kind

    def call(self, image: tf.Tensor, reconstruction: tf.Tensor) -> tf.Tensor:
        if self.kind == OUTPUT_SCORE:
            return losses.hybrid_score(
                image, reconstruction, self.w_mse, self.w_ssim, self.window, self.fov
            )
        return losses.error_map(image, reconstruction, self.w_mse, self.w_ssim, self.window, self.fov)

    def compute_output_shape(self, image_shape: tuple, reconstruction_shape: tuple) -> tuple:
        return image_shape[:1] if self.kind == OUTPUT_SCORE else tuple(image_shape[:3])

    def get_config(self) -> dict[str, Any]:
        return {
            **super().get_config(),
            "w_mse": self.w_mse,
            "w_ssim": self.w_ssim,
            "ssim_window": self.window.to_dict(),
            "field_of_view": None if self.fov is None else self.fov.to_dict(),
            "kind": self.kind,
        }


def clear_activity_regularizers(model: keras.Model) -> int:
    """Drop activity regularizers (training-only) from every layer, nested ones included.

    tf2onnx fails on the L1 regularizer's captured constant ("Fetch node
    .../bottleneck/mul/x doesn't exist", TOOLCHAIN.md); it has no effect on
    inference outputs. Returns how many were cleared.
    """
    cleared = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if getattr(layer, "activity_regularizer", None) is not None:
            layer.activity_regularizer = None
            cleared += 1
    return cleared


def wrap_cae(
    model: keras.Model, w_mse: float, w_ssim: float, window: SsimWindow = REFERENCE_WINDOW,
    fov: FieldOfView | None = None,
) -> keras.Model:
    """image -> {reconstruction, error_map, score} around a trained CAE.

    With ``fov`` score and error map see only the image's field of view (training.fov).

    The CAE's activity regularizer is cleared in place (inference is unchanged).
    """
    clear_activity_regularizers(model)
    shape = tuple(model.input_shape[1:])
    if len(shape) != 3 or shape[-1] != 3 or shape[0] != shape[1] or shape[0] is None:
        msg = f"expected a CAE with a square RGB input [N, S, S, 3], got {model.input_shape}"
        raise ValueError(msg)
    image = keras.Input(shape=shape, name=INPUT_NAME, dtype="float32")
    recon = model(image)
    fov_dict = None if fov is None else fov.to_dict()
    outputs = {
        OUTPUT_RECONSTRUCTION: keras.layers.Identity(name=OUTPUT_RECONSTRUCTION)(recon),
        OUTPUT_ERROR_MAP: HybridHead(
            w_mse, w_ssim, OUTPUT_ERROR_MAP, window.to_dict(), fov_dict, name=OUTPUT_ERROR_MAP
        )(image, recon),
        OUTPUT_SCORE: HybridHead(
            w_mse, w_ssim, OUTPUT_SCORE, window.to_dict(), fov_dict, name=OUTPUT_SCORE
        )(image, recon),
    }
    return keras.Model(image, outputs, name="dermscreen_scorer")
