"""Frozen EfficientNet-Lite0 features of the app's preprocessed images, cached on disk.

The labelled lane (issue 27) trains its first head on frozen features: each image goes
through the app's preprocessing (the CAE's ``PreprocessConfig``: hair removal, 128x128),
is resized in the graph to the backbone's input side, and the global-average-pooled maps
of a few blocks plus the head are concatenated. Augmented copies (flips, 90-degree
turns, zoom, colour gain and gamma: acquisition differences between sites) are drawn
with a seed per copy, so a cache entry is reproducible. Caches live in
``$DERMSCREEN_CACHE/features`` keyed by preprocessing digest, side, taps and copy.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import cv2
import numpy as np

from desktop_app.core.dataset import Sample
from desktop_app.core.preprocess import PreprocessConfig
from training.cache import cache_root, load_tensors

DEFAULT_TAPS = (4, 7, 10, 14)


def augment(batch: np.ndarray, seed: int) -> np.ndarray:
    """A seeded site-robustness augmentation of [N, S, S, 3] images in [0, 1]."""
    rng = np.random.default_rng(seed)
    out = np.empty_like(batch)
    size = batch.shape[1]
    for i, img in enumerate(batch):
        x = np.rot90(img, int(rng.integers(4)))
        if rng.random() < 0.5:
            x = x[:, ::-1]
        zoom = rng.uniform(0.75, 1.0)  # lesion scale differs between dermoscopes and sites
        side = max(8, round(size * zoom))
        y0, x0 = rng.integers(0, size - side + 1, size=2)
        x = cv2.resize(np.ascontiguousarray(x[y0:y0 + side, x0:x0 + side]), (size, size),
                       interpolation=cv2.INTER_LINEAR)
        gain = rng.uniform(0.8, 1.2, size=3).astype(np.float32)  # camera white balance
        gamma = rng.uniform(0.8, 1.25)  # exposure / tone curve
        out[i] = np.clip(np.clip(x * gain, 0, 1) ** gamma, 0, 1)
    return out


def feature_model(side: int, taps: Sequence[int] = DEFAULT_TAPS, in_size: int = 128):
    """Keras model: [N, in, in, 3] in [0, 1] -> [N, sum(channels)] pooled features."""
    import keras
    from keras import layers

    from training.lite0 import lite0_layers, load_weights, weights_path

    inputs = keras.Input(shape=(in_size, in_size, 3), name="image")
    x = inputs if side == in_size else layers.Resizing(side, side, interpolation="bilinear",
                                                       name="to_backbone")(inputs)
    blocks, head = lite0_layers(x)
    pooled = [layers.GlobalAveragePooling2D()(blocks[t]) for t in taps]
    pooled.append(layers.GlobalAveragePooling2D()(head))
    model = keras.Model(inputs, layers.Concatenate()(pooled), name="lite0_features")
    load_weights(model, weights_path())
    return model


def _key(cfg: PreprocessConfig, side: int, taps: Sequence[int], copy: int) -> str:
    blob = json.dumps({"pre": cfg.digest(), "side": side, "taps": list(taps), "copy": copy,
                       "version": 1}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_features(
    samples: Sequence[Sample], cfg: PreprocessConfig, side: int,
    taps: Sequence[int] = DEFAULT_TAPS, copy: int = 0, batch: int = 64,
    progress: Callable[[str], None] | None = None, model=None,
) -> np.ndarray:
    """Features [N, D] of ``samples`` (copy 0: as preprocessed; copy k: augmentation seed k)."""
    from desktop_app.core.imageio import file_sha256

    folder = cache_root() / "features" / _key(cfg, side, taps, copy)
    folder.mkdir(parents=True, exist_ok=True)
    shas = [file_sha256(s.path) for s in samples]
    todo = [i for i, sha in enumerate(shas) if not (folder / f"{sha}.npy").exists()]
    if todo:
        model = model or feature_model(side, taps, cfg.size)
        for start in range(0, len(todo), batch):
            idx = todo[start:start + batch]
            x = load_tensors([samples[i].path for i in idx], cfg,
                             {samples[i].path: shas[i] for i in idx})
            if copy:
                x = augment(x, seed=copy * 1_000_003 + start)
            feats = np.asarray(model.predict_on_batch(x), dtype=np.float32)
            for i, f in zip(idx, feats, strict=True):
                np.save(folder / f"{shas[i]}.npy", f, allow_pickle=False)
            if progress:
                progress(f"features {min(start + batch, len(todo))}/{len(todo)} (copy {copy})")
    return np.stack([np.load(folder / f"{sha}.npy") for sha in shas])
