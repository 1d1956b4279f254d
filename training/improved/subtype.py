"""A small CNN that tells the BENIGN subtypes apart, trained on benign images only.

Its use is out-of-distribution detection: a lesion that fits none of the benign
subtypes (nevus, benign keratosis, dermatofibroma, vascular lesion) leaves the
classifier unsure (high softmax entropy) and its penultimate features far from every
benign subtype's mean (class-conditional Mahalanobis, Lee et al. 2018). No malignant
image is used to train it. Seborrheic keratosis is merged into benign keratosis
(both keratoses; after the duplicate audit too few SK images remain to be a class).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from desktop_app.core.labels import BENIGN_CLASSES

Progress = Callable[[str], None]
MERGE = {"seborrheic keratosis": "pigmented benign keratosis"}
SUBTYPES: tuple[str, ...] = tuple(c for c in BENIGN_CLASSES if c not in MERGE)
FEATURE_LAYER = "subtype_features"


def subtype_index(classes: Sequence[str]) -> np.ndarray:
    """Benign class names -> subtype indices into :data:`SUBTYPES`."""
    out = []
    for c in classes:
        c = MERGE.get(c, c)
        if c not in SUBTYPES:
            msg = f"{c!r} is not a benign subtype; known: {SUBTYPES}"
            raise ValueError(msg)
        out.append(SUBTYPES.index(c))
    return np.asarray(out, dtype=np.int64)


def build_subtype_net(size: int = 128, width: int = 32, feature_dim: int = 64):  # -> keras.Model
    """Input ``image`` [N, size, size, 3] -> softmax over :data:`SUBTYPES`.

    The image is average-pooled to half size first (the subtypes differ in colour and
    structure visible at 64x64; it quarters the CPU cost).
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(size, size, 3), name="image")
    x = layers.AveragePooling2D(2, name="st_down")(inputs)
    for i, n in enumerate((width, width * 2, width * 4, width * 4)):
        x = layers.Conv2D(n, 3, padding="same", activation="relu", name=f"st_conv{i + 1}")(x)
        x = layers.MaxPooling2D(2, name=f"st_pool{i + 1}")(x)
    x = layers.GlobalAveragePooling2D(name="st_gap")(x)
    feats = layers.Dense(feature_dim, activation="relu", name=FEATURE_LAYER)(x)
    out = layers.Dense(len(SUBTYPES), activation="softmax", name="subtype_probs")(feats)
    return keras.Model(inputs, out, name="dermscreen_subtype")


def train_subtype_net(
    x_fit: np.ndarray,
    classes_fit: Sequence[str],
    out_path: str | Path,
    epochs: int = 30,
    batch_size: int = 32,
    seed: int = 42,
    progress: Progress = print,
):  # -> keras.Model
    """Train with flips/rotations/colour jitter and class-balanced weights; save to ``out_path``."""
    import keras
    import tensorflow as tf

    from training.augment import augment_batch

    keras.utils.set_random_seed(seed)
    y = subtype_index(classes_fit)
    counts = np.bincount(y, minlength=len(SUBTYPES)).astype(np.float64)
    weights = (counts.sum() / (len(SUBTYPES) * np.maximum(counts, 1.0))).astype(np.float32)
    model = build_subtype_net(size=int(x_fit.shape[1]))
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    ds = tf.data.Dataset.from_tensor_slices((x_fit, y)).shuffle(len(x_fit), seed=seed)
    ds = ds.batch(batch_size)
    for epoch in range(epochs):
        t0 = time.perf_counter()
        stats = []
        for step, (xb, yb) in enumerate(ds):
            xa = augment_batch(xb, seed * 7919 + epoch * 1009 + step)
            sw = tf.gather(weights, yb)
            stats.append(model.train_on_batch(xa, yb, sample_weight=sw))
        loss, acc = np.mean(stats, axis=0)[:2]
        progress(
            f"subtype epoch {epoch + 1}/{epochs} loss {loss:.4f} acc {acc:.3f} "
            f"{time.perf_counter() - t0:.1f} s"
        )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(".partial." + out_path.name)
    model.save(tmp)
    tmp.replace(out_path)
    return model


def feature_model(net):  # keras.Model -> keras.Model giving (features, probs)
    import keras

    return keras.Model(net.input, [net.get_layer(FEATURE_LAYER).output, net.output])
