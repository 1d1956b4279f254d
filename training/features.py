"""Frozen EfficientNet-Lite0 features of the app's preprocessed images, cached on disk.

The labelled lane (issue 27) trains its first head on frozen features: each image goes
through the app's preprocessing (the CAE's ``PreprocessConfig``: hair removal, 128x128),
is resized in the graph to the backbone's input side, and the global-average-pooled maps
of a few blocks plus the head are concatenated. Caches live in
``$DERMSCREEN_CACHE/features`` keyed by preprocessing digest, side and taps. (Augmented
feature copies were measured and lowered the worst-site validation AUROC, docs/ACCURACY.md;
their code is in the history, d299dd9.)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence

import numpy as np

from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.imaging.preprocess import PreprocessConfig
from training.cache import cache_root, load_tensors, save_atomic

DEFAULT_TAPS = (4, 7, 10, 14)


def feature_model(side: int, taps: Sequence[int] = DEFAULT_TAPS, in_size: int = 128):
    """Keras model: [N, in, in, 3] in [0, 1] -> [N, sum(channels)] pooled features."""
    import keras
    from keras import layers

    from training.lite0 import load_weights, pooled_features, weights_path

    inputs = keras.Input(shape=(in_size, in_size, 3), name="image")
    x = inputs if side == in_size else layers.Resizing(side, side, interpolation="bilinear",
                                                       name="to_backbone")(inputs)
    model = keras.Model(inputs, pooled_features(x, taps), name="lite0_features")
    load_weights(model, weights_path())
    return model


def _key(cfg: PreprocessConfig, side: int, taps: Sequence[int]) -> str:
    blob = json.dumps({"pre": cfg.digest(), "side": side, "taps": list(taps), "version": 2},
                      sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached_features(
    samples: Sequence[Sample], cfg: PreprocessConfig, side: int,
    taps: Sequence[int] = DEFAULT_TAPS, batch: int = 64,
    progress: Callable[[str], None] | None = None,
) -> np.ndarray:
    """Features [N, D] of ``samples``, computed once per file content (SHA-256)."""
    from desktop_app.core.imaging.imageio import file_sha256

    folder = cache_root() / "features" / _key(cfg, side, taps)
    folder.mkdir(parents=True, exist_ok=True)
    shas = [file_sha256(s.path) for s in samples]
    todo = [i for i, sha in enumerate(shas) if not (folder / f"{sha}.npy").exists()]
    if todo:
        model = feature_model(side, taps, cfg.size)
        for start in range(0, len(todo), batch):
            idx = todo[start:start + batch]
            x = load_tensors([samples[i].path for i in idx], cfg,
                             {samples[i].path: shas[i] for i in idx})
            feats = np.asarray(model.predict_on_batch(x), dtype=np.float32)
            for i, f in zip(idx, feats, strict=True):
                save_atomic(folder / f"{shas[i]}.npy", f)
            if progress:
                progress(f"features {min(start + batch, len(todo))}/{len(todo)}")
    return np.stack([np.load(folder / f"{sha}.npy") for sha in shas])
