"""The convolutional autoencoder (CAE) trained on benign lesions only."""

from __future__ import annotations

import keras
from keras import layers, regularizers

from desktop_app.core.model_metadata import INPUT_NAME

BOTTLENECK_NAME = "bottleneck"


def build_cae(
    size: int = 128,
    latent_dim: int = 128,
    l1: float = 1e-7,
    filters: tuple[int, ...] = (32, 64, 128),
) -> keras.Model:
    """Encoder (Conv 3x3 + ReLU + MaxPool 2x2 per block) -> Dense bottleneck -> mirrored decoder.

    The bottleneck carries a small L1 activity regularizer (sparse codes); it plays
    no part in inference, export clears it (see TOOLCHAIN.md).
    """
    if not filters:
        msg = "filters must name at least one encoder block"
        raise ValueError(msg)
    scale = 2 ** len(filters)
    if size % scale:
        msg = f"size {size} must be divisible by {scale} for {len(filters)} pooling blocks"
        raise ValueError(msg)
    inputs = keras.Input(shape=(size, size, 3), name=INPUT_NAME)
    x = inputs
    for i, n in enumerate(filters):
        x = layers.Conv2D(n, 3, padding="same", activation="relu", name=f"enc_conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"enc_pool{i + 1}")(x)
    x = layers.Flatten(name="flatten")(x)
    code = layers.Dense(
        latent_dim,
        activation="relu",
        activity_regularizer=regularizers.L1(l1) if l1 > 0 else None,
        name=BOTTLENECK_NAME,
    )(x)
    side = size // scale
    x = layers.Dense(side * side * filters[-1], activation="relu", name="dec_dense")(code)
    x = layers.Reshape((side, side, filters[-1]), name="dec_reshape")(x)
    for i, n in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(
            n, 3, strides=2, padding="same", activation="relu", name=f"dec_deconv{i + 1}"
        )(x)
    outputs = layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="reconstruction")(x)
    return keras.Model(inputs, outputs, name="dermscreen_cae")
