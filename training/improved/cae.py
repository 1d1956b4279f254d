"""A CAE of the reference architecture trained with dermoscopy-respecting augmentation.

Same :func:`training.model.build_cae` and :func:`training.losses.hybrid_loss` as the
reference; the only change is the training data, augmented by
:func:`training.augment.augment_batch` (the one augmentation, also behind
``dermscreen-train fit --augment``). Kept for the experiments of
``training.improved``; the shipped improved model is trained by ``fit``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

Progress = Callable[[str], None]


def train_cae(
    x_fit: np.ndarray,
    x_val: np.ndarray,
    out_path: str | Path,
    epochs: int = 25,
    augment: bool = True,
    latent_dim: int = 128,
    w_mse: float = 0.4,
    w_ssim: float = 0.6,
    batch_size: int = 32,
    seed: int = 42,
    progress: Progress = print,
):  # -> keras.Model
    """Train on benign ``x_fit``, keep the weights of the best benign-validation loss, save."""
    import keras
    import tensorflow as tf

    from training.augment import augment_batch
    from training.losses import hybrid_loss
    from training.model import build_cae

    keras.utils.set_random_seed(seed)
    model = build_cae(size=int(x_fit.shape[1]), latent_dim=latent_dim)
    loss = hybrid_loss(w_mse, w_ssim)
    opt = keras.optimizers.Adam(1e-3)
    model.compile(optimizer=opt, loss=loss)
    ds = tf.data.Dataset.from_tensor_slices(x_fit).shuffle(len(x_fit), seed=seed).batch(batch_size)
    best, best_weights, best_epoch = float("inf"), None, -1
    for epoch in range(epochs):
        t0 = time.perf_counter()
        losses = []
        for step, batch in enumerate(ds):
            xb = augment_batch(batch, seed * 100003 + epoch * 1009 + step) if augment else batch
            losses.append(float(model.train_on_batch(xb, xb)))
        val = float(model.evaluate(x_val, x_val, batch_size=64, verbose=0))
        if val < best:
            best, best_epoch = val, epoch
            best_weights = [w.copy() for w in model.get_weights()]
        progress(
            f"epoch {epoch + 1}/{epochs} loss {np.mean(losses):.5f} val {val:.5f} "
            f"{time.perf_counter() - t0:.1f} s"
        )
    if best_weights is not None:
        model.set_weights(best_weights)
    progress(f"best epoch {best_epoch + 1} val {best:.5f}")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(".partial." + out_path.name)
    model.save(tmp)
    tmp.replace(out_path)
    return model
