"""Augmentation: orientation and mild colour changes only, reproducible, every image once per epoch."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from training.augment import (
    GAIN_RANGE,
    augment_batch,
    augment_image,
    augmented_dataset,
    steps_per_epoch,
)

# Grey levels spaced 1.2x apart: the +-8% gain cannot make one look like another.
LEVELS = 0.3 * 1.2 ** np.arange(6)


def _grey_images() -> np.ndarray:
    return np.stack([np.full((8, 8, 3), v, np.float32) for v in LEVELS])


def _which(img: np.ndarray) -> int:
    value = float(img.mean())
    candidates = [i for i, v in enumerate(LEVELS) if v * GAIN_RANGE[0] - 1e-6 <= value <= v * GAIN_RANGE[1] + 1e-6]
    assert len(candidates) == 1, value
    return candidates[0]


def test_orientation_changes_only_by_rotation_or_flip() -> None:
    img = np.zeros((6, 6, 3), np.float32)
    img[0, 1] = 0.5  # one marked pixel next to a corner
    corners_seen = set()
    for k in range(40):
        out = augment_image(tf.constant(img), tf.constant([3, k], tf.int64)).numpy()
        assert out.shape == img.shape
        ys, xs = np.nonzero(out[..., 0])
        assert len(ys) == 1  # nothing moved but the one pixel (no resampling, no blur)
        assert (min(ys[0], 5 - ys[0]), min(xs[0], 5 - xs[0])) in {(0, 1), (1, 0)}
        assert GAIN_RANGE[0] * 0.5 - 1e-6 <= out[ys[0], xs[0], 0] <= GAIN_RANGE[1] * 0.5 + 1e-6
        corners_seen.add((ys[0], xs[0]))
    assert len(corners_seen) == 8  # all 4 rotations x 2 flips occur


def test_same_key_same_result_and_values_stay_in_range() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((5, 16, 16, 3)).astype(np.float32)
    a = augment_batch(x, 11).numpy()
    np.testing.assert_array_equal(a, augment_batch(x, 11).numpy())
    assert not np.array_equal(a, augment_batch(x, 12).numpy())
    assert a.min() >= 0.0 and a.max() <= 1.0
    assert not np.allclose(a, x)


def test_each_epoch_shows_every_image_once_in_a_new_order() -> None:
    x = _grey_images()
    epochs, batch = 3, 4
    batches = [(a.numpy(), b.numpy()) for a, b in augmented_dataset(x, batch, seed=5, epochs=epochs)]
    per_epoch = steps_per_epoch(len(x), batch)
    assert per_epoch == 2
    assert len(batches) == epochs * per_epoch
    orders = []
    for e in range(epochs):
        images = np.concatenate([a for a, _ in batches[e * per_epoch : (e + 1) * per_epoch]])
        for a, b in batches[e * per_epoch : (e + 1) * per_epoch]:
            np.testing.assert_array_equal(a, b)  # autoencoder: target is the input
        order = [_which(img) for img in images]
        assert sorted(order) == list(range(len(x)))
        orders.append(order)
    assert len({tuple(o) for o in orders}) > 1  # reshuffled between epochs
    again = [a.numpy() for a, _ in augmented_dataset(x, batch, seed=5, epochs=epochs)]
    for (a, _), b in zip(batches, again, strict=True):
        np.testing.assert_array_equal(a, b)


def test_empty_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no images"):
        augmented_dataset(np.zeros((0, 8, 8, 3), np.float32), 4, 0, 1)
