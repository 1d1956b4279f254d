"""Training-time augmentation that respects dermoscopy.

A lesion has no canonical orientation, so every image may be flipped and turned
by multiples of 90 degrees; dermatoscopes differ in illumination and colour
rendering, so brightness and saturation get a mild jitter. Nothing here changes
what the app sees: augmentation happens only while the CAE trains.

Random draws are stateless and keyed on (seed, epoch, position), so a run is
reproducible on the same machine and library versions.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

GAIN_RANGE = (0.92, 1.08)
SATURATION_RANGE = (0.9, 1.1)


def augment_image(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """One [H, W, 3] image in [0, 1], randomly rotated/flipped and colour-jittered.

    ``seed`` is an int64 [2] tensor for the stateless random ops.
    """
    seed = tf.cast(seed, tf.int64)
    draws = tf.random.stateless_uniform([4], seed=seed)
    k = tf.cast(tf.floor(draws[0] * 4.0), tf.int32)
    image = tf.image.rot90(image, k)
    image = tf.cond(draws[1] < 0.5, lambda: tf.image.flip_left_right(image), lambda: image)
    gain = GAIN_RANGE[0] + draws[2] * (GAIN_RANGE[1] - GAIN_RANGE[0])
    saturation = SATURATION_RANGE[0] + draws[3] * (SATURATION_RANGE[1] - SATURATION_RANGE[0])
    grey = tf.reduce_mean(image, axis=-1, keepdims=True)
    image = grey + (image - grey) * saturation
    return tf.clip_by_value(image * gain, 0.0, 1.0)


def augment_batch(x: tf.Tensor, seed: int) -> tf.Tensor:
    """:func:`augment_image` applied to every image of a [N, H, W, 3] batch, keyed on ``seed``."""
    x = tf.convert_to_tensor(x, tf.float32)
    n = tf.shape(x)[0]
    keys = tf.stack(
        [tf.fill([n], tf.constant(seed, tf.int64)), tf.range(tf.cast(n, tf.int64), dtype=tf.int64)],
        axis=1,
    )
    return tf.map_fn(lambda args: augment_image(args[0], args[1]), (x, keys), fn_output_signature=tf.float32)


def augmented_dataset(
    x: np.ndarray, batch_size: int, seed: int, epochs: int
) -> tf.data.Dataset:
    """(image, image) batches for ``epochs`` epochs: reshuffled and re-augmented every epoch.

    The dataset is finite (``epochs`` passes), so fit with ``steps_per_epoch``
    = ``steps_per_epoch(len(x), batch_size)``.
    """
    n = len(x)
    if n == 0:
        msg = "no images to augment"
        raise ValueError(msg)
    pixels = tf.constant(x)
    seed64 = tf.constant(seed, tf.int64)

    def epoch_data(epoch: tf.Tensor) -> tf.data.Dataset:
        epoch = tf.cast(epoch, tf.int64)
        order = tf.random.experimental.stateless_shuffle(tf.range(n), seed=tf.stack([seed64, epoch]))

        def one(i: tf.Tensor) -> tf.Tensor:
            key = tf.stack([seed64 * 1_000_003 + epoch, tf.cast(i, tf.int64)])
            return augment_image(tf.gather(pixels, i), key)

        # Batched per epoch, so every epoch has exactly steps_per_epoch batches.
        return tf.data.Dataset.from_tensor_slices(order).map(one).batch(batch_size)

    data = tf.data.Dataset.range(epochs).flat_map(epoch_data)
    return data.map(lambda b: (b, b)).prefetch(1)


def steps_per_epoch(n: int, batch_size: int) -> int:
    """Batches per epoch (the last one may be short)."""
    return -(-n // batch_size)
