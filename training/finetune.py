"""Fine-tune the top of Lite0 with its linear head (issue 27, after the frozen-feature head).

Start: the ImageNet backbone plus the frozen-feature head of :mod:`training.supervised`
(its standardisation folded into the Dense layer), so epoch 0 is exactly the frozen
model. Blocks from ``first_trainable`` on and the 1x1 head train; BatchNorm statistics
stay frozen (small batches on 2 cores would only add noise). Each batch is augmented on
the fly with label-preserving changes seen between sites: flips and 90-degree turns, a
mild zoom, white-balance gain and exposure. Every epoch is scored on
``supervised-validation`` per site; the epoch with the best worst-site AUROC is kept
(the run's only choice, made on validation), and a wall-clock budget stops the run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.evaluation.dataset import Sample
from training.features import DEFAULT_TAPS
from training.supervised import LinearHead, per_site_auroc

LOGIT = "logit"


def build_classifier(head: LinearHead, taps: Sequence[int] = DEFAULT_TAPS, size: int = 128,
                     first_trainable: int = 8):
    """Keras model image -> logit, initialised from ``head``; layers before
    ``first_trainable`` (a block index) frozen, BatchNorm always frozen."""
    import keras
    from keras import layers

    from training.lite0 import load_weights, pooled_features, weights_path

    inputs = keras.Input(shape=(size, size, 3), name="image")
    feats = pooled_features(inputs, taps)
    dense = layers.Dense(1, name=LOGIT)
    logit = layers.Reshape((), name="logit_flat")(dense(feats))
    model = keras.Model(inputs, logit, name="lite0_classifier")
    load_weights(model, weights_path())
    kernel = (head.coef / head.scale).astype(np.float32)[:, None]
    bias = np.array([head.intercept - float(np.sum(head.mean * head.coef / head.scale))],
                    dtype=np.float32)
    dense.set_weights([kernel, bias])
    for layer in model.layers:
        name = layer.name
        frozen = isinstance(layer, layers.BatchNormalization)
        if name.startswith("lite0_b"):
            frozen = frozen or int(name[len("lite0_b"):].split("_")[0]) < first_trainable
        elif name.startswith("lite0_stem"):
            frozen = True
        layer.trainable = not frozen
    return model


def augment_batch(x, seed):
    """Label-preserving site changes, in TensorFlow so they run inside the training step."""
    import tensorflow as tf

    def uniform(shape, k, lo=0.0, hi=1.0, dtype=tf.float32):
        return tf.random.stateless_uniform(shape, tf.stack([seed, tf.constant(k, tf.int64)]),
                                           lo, hi, dtype=dtype)

    n = tf.shape(x)[0]
    size = x.shape[1]
    x = tf.image.rot90(x, k=uniform((), 1, 0, 4, tf.int32))
    x = tf.where(uniform((n, 1, 1, 1), 2) < 0.5, x[:, :, ::-1, :], x)
    side = tf.cast(tf.round(uniform((), 3, 0.85, 1.0) * size), tf.int32)
    x = tf.image.stateless_random_crop(x, tf.stack([n, side, side, 3]),
                                       seed=tf.stack([seed, tf.constant(4, tf.int64)]))
    x = tf.image.resize(x, (size, size))
    gain = uniform((n, 1, 1, 3), 5, 0.9, 1.1)
    gamma = uniform((n, 1, 1, 1), 6, 0.9, 1.1)
    return tf.clip_by_value(tf.clip_by_value(x * gain, 0.0, 1.0) ** gamma, 0.0, 1.0)


@dataclass
class FinetuneResult:
    best_epoch: int
    history: list[dict]
    seconds: float


def finetune(
    model, x_train: np.ndarray, y_train: np.ndarray, w_train: np.ndarray,
    x_val: np.ndarray, val_samples: Sequence[Sample], out_dir: Path, *, epochs: int = 8,
    batch: int = 32, lr: float = 1e-4, max_minutes: float = 55.0, seed: int = 0,
    say: Callable[[str], None] = print,
) -> FinetuneResult:
    """Train; keep the weights of the best worst-site validation epoch in ``out_dir``."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    opt = keras.optimizers.Adam(lr)
    loss_fn = keras.losses.BinaryCrossentropy(from_logits=True, reduction="sum")
    trainable = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def step(x, y, w, s):
        x = augment_batch(x, s)
        with tf.GradientTape() as tape:
            logit = model(x, training=False)  # BatchNorm in inference mode: frozen statistics
            loss = loss_fn(y[:, None], logit[:, None], sample_weight=w) / tf.reduce_sum(w)
        opt.apply_gradients(zip(tape.gradient(loss, trainable), trainable, strict=True))
        return loss

    def evaluate() -> dict:
        logits = np.concatenate([np.asarray(model(x_val[i:i + 128], training=False))
                                 for i in range(0, len(x_val), 128)])
        return per_site_auroc(val_samples, logits)

    start = time.monotonic()
    history = [{"epoch": 0, **evaluate(), "seconds": 0.0}]
    say(f"epoch 0 (frozen head): {json.dumps({k: round(v, 4) for k, v in history[0].items()})}")
    best = 0
    model.save_weights(out_dir / "best.weights.h5")
    rng = np.random.default_rng(seed)
    for epoch in range(1, epochs + 1):
        order = rng.permutation(len(x_train))
        losses = []
        for i in range(0, len(order) - batch + 1, batch):
            idx = np.sort(order[i:i + batch])
            losses.append(float(step(tf.constant(x_train[idx]), tf.constant(y_train[idx], tf.float32),
                                     tf.constant(w_train[idx], tf.float32),
                                     tf.constant(epoch * 100_003 + i, tf.int64))))
            if (time.monotonic() - start) / 60 > max_minutes:
                break
        row = {"epoch": epoch, **evaluate(), "loss": float(np.mean(losses)),
               "seconds": round(time.monotonic() - start, 1)}
        history.append(row)
        say(f"epoch {epoch}: {json.dumps({k: round(v, 4) for k, v in row.items()})}")
        if row["worst"] > history[best]["worst"]:
            best = epoch
            model.save_weights(out_dir / "best.weights.h5")
        (out_dir / "history.json").write_text(json.dumps(history, indent=1))
        if (time.monotonic() - start) / 60 > max_minutes:
            say(f"stopped by the {max_minutes:g}-minute budget")
            break
    model.load_weights(out_dir / "best.weights.h5")
    return FinetuneResult(best, history, time.monotonic() - start)
