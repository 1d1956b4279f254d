"""The convolutional autoencoder (CAE) trained on benign lesions only."""

from __future__ import annotations

import keras
from keras import layers, regularizers

from desktop_app.core.model.metadata import INPUT_NAME

BOTTLENECK_NAME = "bottleneck"


def _encoder(size: int, filters: tuple[int, ...]):
    """Input and flattened features: Conv 3x3 + ReLU + MaxPool 2x2 per block."""
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
    return inputs, layers.Flatten(name="flatten")(x)


def _decoder(code, size: int, filters: tuple[int, ...]):
    """The encoder mirrored: Dense -> Reshape -> transposed convolutions -> sigmoid RGB."""
    side = size // 2 ** len(filters)
    x = layers.Dense(side * side * filters[-1], activation="relu", name="dec_dense")(code)
    x = layers.Reshape((side, side, filters[-1]), name="dec_reshape")(x)
    for i, n in enumerate(reversed(filters)):
        x = layers.Conv2DTranspose(
            n, 3, strides=2, padding="same", activation="relu", name=f"dec_deconv{i + 1}"
        )(x)
    return layers.Conv2D(3, 3, padding="same", activation="sigmoid", name="reconstruction")(x)


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
    inputs, x = _encoder(size, filters)
    code = layers.Dense(
        latent_dim,
        activation="relu",
        activity_regularizer=regularizers.L1(l1) if l1 > 0 else None,
        name=BOTTLENECK_NAME,
    )(x)
    outputs = _decoder(code, size, filters)
    return keras.Model(inputs, outputs, name="dermscreen_cae")


LOGVAR_NAME = "logvar"


@keras.saving.register_keras_serializable(package="dermscreen")
class Sampling(layers.Layer):
    """The VAE's reparameterised code: mu + exp(logvar / 2) * eps while training, mu otherwise.

    While training it adds ``kl_weight`` x the batch mean of the KL divergence of
    N(mu, exp(logvar)) from N(0, I) to the model's losses. At inference it is
    the identity on mu, so the exported graph has no random op and scores are
    deterministic.
    """

    def __init__(self, kl_weight: float = 1.0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kl_weight = float(kl_weight)
        self.seed = keras.random.SeedGenerator(1337)

    def call(self, inputs, training=None):
        mu, logvar = inputs
        if not training:
            return mu
        kl = -0.5 * keras.ops.sum(1.0 + logvar - keras.ops.square(mu) - keras.ops.exp(logvar), axis=-1)
        self.add_loss(self.kl_weight * keras.ops.mean(kl))
        eps = keras.random.normal(keras.ops.shape(mu), seed=self.seed)
        return mu + keras.ops.exp(0.5 * logvar) * eps

    def compute_output_shape(self, input_shape):
        return input_shape[0]

    def get_config(self) -> dict:
        return {**super().get_config(), "kl_weight": self.kl_weight}


def build_vae(
    size: int = 128,
    latent_dim: int = 128,
    kl_weight: float | None = None,
    filters: tuple[int, ...] = (32, 64, 128),
) -> keras.Model:
    """The CAE's encoder and decoder around a variational code (Kingma & Welling 2014).

    As in Lu & Xu 2018 (arXiv 1807.01349), a VAE trained on benign lesions; the
    ``bottleneck`` layer is the code's mean and ``logvar`` its log-variance.
    ``kl_weight`` defaults to 1 / (size * size * 3): the KL term per image set
    against the per-pixel mean of the reconstruction loss, i.e. a standard VAE
    whose reconstruction term is summed over pixels.
    """
    weight = 1.0 / (size * size * 3) if kl_weight is None else kl_weight
    inputs, x = _encoder(size, filters)
    mu = layers.Dense(latent_dim, name=BOTTLENECK_NAME)(x)
    logvar = layers.Dense(latent_dim, name=LOGVAR_NAME)(x)
    code = Sampling(kl_weight=weight, name="sampling")([mu, logvar])
    outputs = _decoder(code, size, filters)
    return keras.Model(inputs, outputs, name="dermscreen_vae")
