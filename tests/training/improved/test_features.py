"""The in-graph lesion features on hand-made images with known answers, and against numpy."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from training.improved import features as feat
from training.improved.fusion import entropy, green_sd, lesion_weighted_error, min_mahalanobis

SIZE = 128
SKIN = (0.85, 0.65, 0.55)
LESION = (0.30, 0.18, 0.10)


def _disk_image(cx: float, cy: float, r: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    inside = (xx - cx) ** 2 + (yy - cy) ** 2 <= r * r
    img = np.empty((SIZE, SIZE, 3), np.float32)
    img[:] = SKIN
    img[inside] = LESION
    return img


def _star_image(r: float, spikes: int, depth: float) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    ang = np.arctan2(yy - 64, xx - 64)
    radius = r * (1 + depth * np.cos(spikes * ang))
    inside = (xx - 64) ** 2 + (yy - 64) ** 2 <= radius**2
    img = np.empty((SIZE, SIZE, 3), np.float32)
    img[:] = SKIN
    img[inside] = LESION
    return img


def _batch(*imgs: np.ndarray) -> tf.Tensor:
    return tf.constant(np.stack(imgs))


def test_skin_colour_is_the_mean_of_the_frame() -> None:
    img = _disk_image(64, 64, 20)
    img[:4, :, :] = 0.0  # a dark strip inside the frame pulls the mean down
    frame = np.zeros((SIZE, SIZE), bool)
    b = feat.BORDER
    frame[:b], frame[-b:], frame[:, :b], frame[:, -b:] = True, True, True, True
    want = img[frame].mean(axis=0)
    got = feat.skin_colour(_batch(img)).numpy()[0]
    np.testing.assert_allclose(got, want, atol=1e-6)


def test_lesion_mask_covers_the_disk_and_not_the_skin() -> None:
    m = feat.lesion_mask(_batch(_disk_image(64, 64, 30))).numpy()[0, ..., 0]
    assert m[64, 64] > 0.99
    assert m[5, 5] < 0.01
    # Soft mask area equals the disk's area to within its one-pixel edge.
    assert abs(m.sum() - np.pi * 30**2) < 2 * np.pi * 30


def test_area_fraction_of_a_centred_disk() -> None:
    s = feat.shape_features(feat.lesion_mask(_batch(_disk_image(64, 64, 30)))).numpy()[0]
    # The soft mask leaks a few percent weight onto plain skin, hence the tolerance.
    assert s[0] == pytest.approx(np.pi * 30**2 / SIZE**2, rel=0.06)


def test_asymmetry_is_near_zero_for_a_centred_disk_and_large_off_centre() -> None:
    s = feat.shape_features(
        feat.lesion_mask(_batch(_disk_image(64, 64, 25), _disk_image(40, 64, 25)))
    ).numpy()
    centred_lr, off_lr = s[0, 1], s[1, 1]
    assert centred_lr < 0.05
    # Mirroring a disk 24 px off centre moves it 48 px: almost no overlap is left.
    assert off_lr > 1.5
    # The off-centre disk is still symmetric top-bottom.
    assert s[1, 2] < 0.05


def test_border_irregularity_is_higher_for_a_star_than_a_disk() -> None:
    s = feat.shape_features(
        feat.lesion_mask(_batch(_disk_image(64, 64, 30), _star_image(30, 9, 0.4)))
    ).numpy()
    # A disk's perimeter / sqrt(area) is 2 sqrt(pi) = 3.54; forward differences on a
    # pixel grid overestimate a circle's perimeter by up to ~20%.
    assert 2 * np.sqrt(np.pi) <= s[0, 3] <= 1.25 * 2 * np.sqrt(np.pi)
    assert s[1, 3] > 1.3 * s[0, 3]


def test_palette_shares_find_the_lesion_colour() -> None:
    img = np.empty((SIZE, SIZE, 3), np.float32)
    img[:] = SKIN
    img[32:96, 32:96] = feat.PALETTE[3]  # dark brown square
    p = feat.palette_features(_batch(img), feat.lesion_mask(_batch(img))).numpy()[0]
    assert int(np.argmax(p[:-1])) == 3
    assert p[-1] < 0.1  # a single colour: entropy near zero


def test_histogram_sums_to_one_and_sits_in_the_lesion_bin() -> None:
    img = np.empty((SIZE, SIZE, 3), np.float32)
    img[:] = SKIN
    img[32:96, 32:96] = (0.0, 1.0, 1.0 / 3.0)  # exactly on bin centres (0, 3, 1)
    h = feat.histogram_features(_batch(img), feat.lesion_mask(_batch(img))).numpy()[0]
    assert h.sum() == pytest.approx(1.0, abs=0.02)
    assert int(np.argmax(h)) == 0 * 16 + 3 * 4 + 1


def test_texture_is_zero_on_flat_colour_and_positive_on_noise() -> None:
    flat = np.full((SIZE, SIZE, 3), 0.5, np.float32)
    noisy = np.random.default_rng(0).uniform(0, 1, (SIZE, SIZE, 3)).astype(np.float32)
    t = feat.texture_features(_batch(flat, noisy), tf.ones((2, SIZE, SIZE, 1))).numpy()
    assert np.all(t[0] < 0.01)
    assert np.all(t[1] > 0.1)


def test_feature_groups_shape_and_unknown_group() -> None:
    x = _batch(_disk_image(64, 64, 20), _star_image(25, 7, 0.3))
    out = feat.feature_groups(x).numpy()
    assert out.shape == (2, sum(feat.group_sizes().values()))
    assert np.all(np.isfinite(out))
    with pytest.raises(ValueError, match="unknown feature groups"):
        feat.feature_groups(x, ("colour", "smell"))


def test_green_sd_equals_numpy() -> None:
    x = np.random.default_rng(1).uniform(0, 1, (3, SIZE, SIZE, 3)).astype(np.float32)
    np.testing.assert_allclose(green_sd(tf.constant(x)).numpy(), x[..., 1].std(axis=(1, 2)),
                               rtol=1e-4)


def test_entropy_of_uniform_and_certain_probabilities() -> None:
    probs = tf.constant([[0.25, 0.25, 0.25, 0.25], [1.0, 0.0, 0.0, 0.0]])
    e = entropy(probs).numpy()
    assert e[0] == pytest.approx(np.log(4.0), rel=1e-4)
    assert e[1] == pytest.approx(0.0, abs=1e-4)


def test_min_mahalanobis_equals_numpy() -> None:
    rng = np.random.default_rng(2)
    means = rng.normal(size=(4, 6))
    a = rng.normal(size=(6, 6))
    prec = a @ a.T + np.eye(6)
    f = rng.normal(size=(5, 6)).astype(np.float32)
    want = np.min([np.einsum("nd,de,ne->n", f - m, prec, f - m) for m in means], axis=0)
    got = min_mahalanobis(tf.constant(f), means, prec).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-4)


def test_lesion_weighted_error_averages_inside_the_lesion() -> None:
    img = _disk_image(64, 64, 30)
    emap = np.zeros((1, SIZE, SIZE), np.float32)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
    emap[0][(xx - 64) ** 2 + (yy - 64) ** 2 <= 28**2] = 1.0  # error inside the lesion only
    got = lesion_weighted_error(_batch(img), tf.constant(emap)).numpy()[0]
    assert got == pytest.approx((28 / 30) ** 2, abs=0.05)
