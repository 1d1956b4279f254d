"""The fused anomaly score, computed inside the exported graph from constants.

Each scoring *term* is a scalar per image computed by TF ops; the fused score is

    score = sum_i  w_i * (t_i - mu_i) / sd_i

with ``mu_i``/``sd_i`` the term's mean and sd over the benign TRAIN images (the CAE's
own training part of the split) and ``w_i`` chosen on the validation set. Terms:

* ``cae``              the reference hybrid score (w_mse * MSE + w_ssim * (1 - SSIM))
* ``cae_lesion``       the error map averaged with the soft lesion mask as weights
* ``asymmetry``        mean of left-right and up-down flip asymmetry of the lesion mask (A)
* ``border``           lesion perimeter / sqrt(area) (B)
* ``area``             lesion fraction of the image (D)
* ``green_sd``         standard deviation of the green channel (colour variation)
* ``subtype_entropy``  softmax entropy of the benign-subtype classifier
* ``subtype_maha``     class-conditional Mahalanobis distance of its features (min over subtypes)
* ``feature_subtype_entropy``  softmax entropy of a linear benign-subtype classifier over the
  standardised hand-made lesion features (:mod:`training.improved.features`, all groups)

All constants are numpy arrays in the layer config, so the ONNX file holds them and the
app needs nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from training import losses
from training.improved import features as feat

TERMS: tuple[str, ...] = (
    "cae",
    "cae_lesion",
    "asymmetry",
    "border",
    "area",
    "green_sd",
    "subtype_entropy",
    "subtype_maha",
    "feature_subtype_entropy",
)
SUBTYPE_TERMS = ("subtype_entropy", "subtype_maha")
EPS = 1e-6


@dataclass
class FusionSpec:
    """What the fused score adds up: term names, weights and benign standardisation."""

    terms: list[str]
    weights: list[float]
    mu: list[float]
    sd: list[float]
    w_mse: float = losses.DEFAULT_W_MSE
    w_ssim: float = losses.DEFAULT_W_SSIM
    # Class-conditional Mahalanobis constants (only when subtype_maha is a term).
    class_means: list[list[float]] = field(default_factory=list)
    precision: list[list[float]] = field(default_factory=list)
    # Linear subtype classifier over standardised hand features (feature_subtype_entropy).
    feat_mu: list[float] = field(default_factory=list)
    feat_sd: list[float] = field(default_factory=list)
    lr_weights: list[list[float]] = field(default_factory=list)
    lr_bias: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        unknown = [t for t in self.terms if t not in TERMS]
        if unknown:
            msg = f"unknown fusion terms {unknown}; known: {TERMS}"
            raise ValueError(msg)
        if not (len(self.terms) == len(self.weights) == len(self.mu) == len(self.sd)):
            msg = "terms, weights, mu and sd must have the same length"
            raise ValueError(msg)
        if not self.terms:
            msg = "a fusion needs at least one term"
            raise ValueError(msg)
        if any(s <= 0 for s in self.sd):
            msg = f"term sds must be positive, got {self.sd}"
            raise ValueError(msg)
        if "subtype_maha" in self.terms and not (self.class_means and self.precision):
            msg = "subtype_maha needs class_means and precision"
            raise ValueError(msg)
        if "feature_subtype_entropy" in self.terms and not (
            self.feat_mu and self.feat_sd and self.lr_weights and self.lr_bias
        ):
            msg = "feature_subtype_entropy needs feat_mu, feat_sd, lr_weights and lr_bias"
            raise ValueError(msg)

    @property
    def needs_subtype(self) -> bool:
        return any(t in SUBTYPE_TERMS for t in self.terms)

    def to_dict(self) -> dict[str, Any]:
        return {
            "terms": list(self.terms),
            "weights": [float(w) for w in self.weights],
            "mu": [float(m) for m in self.mu],
            "sd": [float(s) for s in self.sd],
            "w_mse": float(self.w_mse),
            "w_ssim": float(self.w_ssim),
            "class_means": [[float(v) for v in row] for row in self.class_means],
            "precision": [[float(v) for v in row] for row in self.precision],
            "feat_mu": [float(v) for v in self.feat_mu],
            "feat_sd": [float(v) for v in self.feat_sd],
            "lr_weights": [[float(v) for v in row] for row in self.lr_weights],
            "lr_bias": [float(v) for v in self.lr_bias],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FusionSpec:
        return cls(**data)

    def describe(self) -> str:
        parts = [f"{w:g} * z({t})" for t, w in zip(self.terms, self.weights, strict=True)]
        return " + ".join(parts)


# ---------------------------------------------------------------- terms as TF ops


def lesion_weighted_error(image: tf.Tensor, emap: tf.Tensor) -> tf.Tensor:
    """Error map averaged with the soft lesion mask as weights: [N]."""
    m = feat.lesion_mask(image)[..., 0]
    return tf.reduce_sum(emap * m, axis=[1, 2]) / (tf.reduce_sum(m, axis=[1, 2]) + EPS)


def shape_terms(image: tf.Tensor) -> dict[str, tf.Tensor]:
    """Asymmetry, border and area terms from the lesion mask: name -> [N]."""
    s = feat.shape_features(feat.lesion_mask(image))
    return {"area": s[:, 0], "asymmetry": 0.5 * (s[:, 1] + s[:, 2]), "border": s[:, 3]}


def green_sd(image: tf.Tensor) -> tf.Tensor:
    g = image[..., 1]
    mean = tf.reduce_mean(g, axis=[1, 2], keepdims=True)
    return tf.sqrt(tf.reduce_mean(tf.square(g - mean), axis=[1, 2]) + EPS)


def entropy(probs: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_sum(probs * tf.math.log(probs + EPS), axis=-1)


def min_mahalanobis(feats: tf.Tensor, class_means: np.ndarray, precision: np.ndarray) -> tf.Tensor:
    """min_k (f - m_k)^T P (f - m_k) over the class means: [N]."""
    means = tf.constant(np.asarray(class_means, dtype=np.float32))  # [K, D]
    prec = tf.constant(np.asarray(precision, dtype=np.float32))  # [D, D]
    diff = feats[:, None, :] - means[None, :, :]  # [N, K, D]
    proj = tf.einsum("nkd,de->nke", diff, prec)
    d2 = tf.reduce_sum(proj * diff, axis=-1)  # [N, K]
    return tf.reduce_min(d2, axis=-1)


def feature_subtype_probs(
    image: tf.Tensor, feat_mu: np.ndarray, feat_sd: np.ndarray, w: np.ndarray, b: np.ndarray
) -> tf.Tensor:
    """Softmax of the linear benign-subtype classifier over standardised hand features."""
    f = feat.feature_groups(image)
    z = (f - tf.constant(np.asarray(feat_mu, np.float32))) / tf.constant(
        np.asarray(feat_sd, np.float32)
    )
    logits = tf.matmul(z, tf.constant(np.asarray(w, np.float32))) + tf.constant(
        np.asarray(b, np.float32)
    )
    return tf.nn.softmax(logits, axis=-1)


def term_values(
    spec: FusionSpec,
    image: tf.Tensor,
    recon: tf.Tensor,
    emap: tf.Tensor,
    sub_feats: tf.Tensor | None,
    sub_probs: tf.Tensor | None,
    names: tuple[str, ...] | list[str] | None = None,
) -> dict[str, tf.Tensor]:
    """Raw (unstandardised) values of the named terms: name -> [N]."""
    names = tuple(names or spec.terms)
    out: dict[str, tf.Tensor] = {}
    if "cae" in names:
        out["cae"] = losses.hybrid_score(image, recon, spec.w_mse, spec.w_ssim)
    if "cae_lesion" in names:
        out["cae_lesion"] = lesion_weighted_error(image, emap)
    if {"area", "asymmetry", "border"} & set(names):
        out.update({k: v for k, v in shape_terms(image).items() if k in names})
    if "green_sd" in names:
        out["green_sd"] = green_sd(image)
    if "subtype_entropy" in names:
        out["subtype_entropy"] = entropy(sub_probs)
    if "subtype_maha" in names:
        out["subtype_maha"] = min_mahalanobis(
            sub_feats, np.asarray(spec.class_means), np.asarray(spec.precision)
        )
    if "feature_subtype_entropy" in names:
        probs = feature_subtype_probs(
            image, np.asarray(spec.feat_mu), np.asarray(spec.feat_sd),
            np.asarray(spec.lr_weights), np.asarray(spec.lr_bias),
        )
        out["feature_subtype_entropy"] = entropy(probs)
    return out


def fuse(spec: FusionSpec, values: dict[str, tf.Tensor]) -> tf.Tensor:
    """sum_i w_i * (t_i - mu_i) / sd_i: [N]."""
    total = None
    for name, w, mu, sd in zip(spec.terms, spec.weights, spec.mu, spec.sd, strict=True):
        z = (values[name] - float(mu)) * float(w / sd)
        total = z if total is None else total + z
    return total


# ---------------------------------------------------------------- the Keras head


@keras.saving.register_keras_serializable(package="dermscreen")
class FusedScoreHead(keras.layers.Layer):
    """(image, reconstruction[, subtype features, subtype probs]) -> fused ``score`` [N]."""

    def __init__(self, spec: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec_dict = dict(spec)
        self.spec = FusionSpec.from_dict(self.spec_dict)

    def call(self, image, reconstruction, sub_feats=None, sub_probs=None):
        emap = losses.error_map(image, reconstruction, self.spec.w_mse, self.spec.w_ssim)
        values = term_values(self.spec, image, reconstruction, emap, sub_feats, sub_probs)
        return fuse(self.spec, values)

    def compute_output_shape(self, image_shape, *args, **kwargs):
        return image_shape[:1]

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "spec": self.spec_dict}


def build_fused_wrapper(cae: keras.Model, spec: FusionSpec, subtype_net: keras.Model | None = None):
    """image -> {reconstruction, error_map, score}: the ONNX contract, fused ``score``.

    ``error_map`` stays the CAE's hybrid error map (the heatmap explains the
    reconstruction term); ``score`` is the fused score.
    """
    from desktop_app.core.model_metadata import (
        INPUT_NAME,
        OUTPUT_ERROR_MAP,
        OUTPUT_RECONSTRUCTION,
        OUTPUT_SCORE,
    )
    from export.convert import HybridHead, clear_activity_regularizers
    from training.improved.subtype import feature_model

    clear_activity_regularizers(cae)
    size = int(cae.input_shape[1])
    image = keras.Input(shape=(size, size, 3), name=INPUT_NAME, dtype="float32")
    recon = cae(image)
    args = [image, recon]
    if spec.needs_subtype:
        if subtype_net is None:
            msg = f"the fusion uses {SUBTYPE_TERMS} terms but no subtype network was given"
            raise ValueError(msg)
        feats, probs = feature_model(subtype_net)(image)
        args += [feats, probs]
    outputs = {
        OUTPUT_RECONSTRUCTION: keras.layers.Identity(name=OUTPUT_RECONSTRUCTION)(recon),
        OUTPUT_ERROR_MAP: HybridHead(spec.w_mse, spec.w_ssim, OUTPUT_ERROR_MAP, name=OUTPUT_ERROR_MAP)(
            image, recon
        ),
        OUTPUT_SCORE: FusedScoreHead(spec.to_dict(), name=OUTPUT_SCORE)(*args),
    }
    return keras.Model(image, outputs, name="dermscreen_improved")
