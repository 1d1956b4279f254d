"""Fixed-scale heatmap colouring shared by the GUI and the PDF reports."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.heatmap import INFERNO_LUT, colorbar, colorize, normalize, overlay


def test_lut_is_dark_to_bright() -> None:
    assert INFERNO_LUT.shape == (256, 3) and INFERNO_LUT.dtype == np.uint8
    luminance = INFERNO_LUT.astype(float) @ np.array([0.299, 0.587, 0.114])
    # Perceptual colormap: brightness rises monotonically (within rounding).
    assert np.all(np.diff(luminance) > -1.0)
    assert luminance[0] < 10 and luminance[-1] > 230


def test_fixed_scale_not_per_image() -> None:
    calm = np.full((8, 8), 0.01, np.float32)
    busy = np.full((8, 8), 0.04, np.float32)
    # Per-image normalisation would paint both the same; the fixed scale must not.
    assert colorize(calm, 0.04).mean() < colorize(busy, 0.04).mean()
    assert np.array_equal(colorize(busy, 0.04)[0, 0], INFERNO_LUT[255])
    assert np.array_equal(colorize(busy * 10, 0.04), colorize(busy, 0.04))  # clipped
    assert np.array_equal(colorize(np.zeros((3, 3)), 1.0)[1, 1], INFERNO_LUT[0])


def test_normalize_handles_nan_and_rejects_bad_vmax() -> None:
    out = normalize(np.array([[np.nan, -1.0, 0.5, 2.0]]), 1.0)
    assert out.tolist() == [[0.0, 0.0, 0.5, 1.0]]
    for bad in (0.0, -1.0, float("nan")):
        with pytest.raises(ValueError, match="vmax"):
            normalize(np.zeros((2, 2)), bad)


def test_overlay_resizes_to_original_and_blends() -> None:
    original = np.full((300, 200, 3), 100, np.uint8)
    emap = np.zeros((128, 128), np.float32)
    emap[:, 64:] = 1.0
    out = overlay(original, emap, vmax=1.0, opacity=0.5)
    assert out.shape == (300, 200, 3) and out.dtype == np.uint8
    expected_hot = np.rint(100 * 0.5 + INFERNO_LUT[255] * 0.5)
    assert np.allclose(out[150, 190], expected_hot, atol=1)
    assert np.array_equal(overlay(original, emap, 1.0, opacity=0.0), original)
    with pytest.raises(ValueError, match="RGB"):
        overlay(original[:, :, 0], emap, 1.0)


def test_colorbar_top_is_brightest() -> None:
    bar = colorbar(64, 5)
    assert bar.shape == (64, 5, 3)
    assert np.array_equal(bar[0, 0], INFERNO_LUT[255]) and np.array_equal(bar[-1, 0], INFERNO_LUT[0])
