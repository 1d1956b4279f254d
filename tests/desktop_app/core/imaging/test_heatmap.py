"""Fixed-scale heatmap colouring shared by the GUI and the PDF reports."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.imaging.heatmap import (
    INFERNO_LUT,
    case_vmax,
    colorbar,
    colorize,
    colorize_in_field,
    field_of_view,
    normalize,
    overlay,
)


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


def test_overlay_draws_only_inside_the_field_of_view() -> None:
    # Reports (case PDF, DICOM heatmap) pass the window's field-of-view mask: no colour on the
    # frame, the same picture the clinician saw.
    original = np.full((300, 200, 3), 100, np.uint8)
    emap = np.ones((128, 128), np.float32)
    inside = np.zeros((128, 128), bool)
    inside[32:96, 32:96] = True
    out = overlay(original, emap, vmax=1.0, opacity=0.5, inside=inside)
    assert np.array_equal(out[5, 5], original[5, 5])  # outside: the original, untouched
    assert not np.array_equal(out[150, 100], original[150, 100])  # inside: blended
    assert np.array_equal(out[150, 100], overlay(original, emap, 1.0, 0.5)[150, 100])


def test_colorbar_top_is_brightest() -> None:
    bar = colorbar(64, 5)
    assert bar.shape == (64, 5, 3)
    assert np.array_equal(bar[0, 0], INFERNO_LUT[255]) and np.array_equal(bar[-1, 0], INFERNO_LUT[0])


def test_field_of_view_masks_the_dark_border_not_a_dark_lesion() -> None:
    size = 64
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size, 3), np.float32)  # the dermoscope's black field
    disc = (yy - 32) ** 2 + (xx - 32) ** 2 < 28 ** 2
    image[disc] = 0.7  # skin
    lesion = (yy - 32) ** 2 + (xx - 32) ** 2 < 6 ** 2
    image[lesion] = 0.03  # a very dark lesion in the middle stays in the field
    inside = field_of_view(image)
    assert inside[lesion].all()
    core = (yy - 32) ** 2 + (xx - 32) ** 2 < 24 ** 2
    assert inside[core].all()
    beyond = (yy - 32) ** 2 + (xx - 32) ** 2 >= 28 ** 2
    assert not inside[beyond].any()
    assert field_of_view(np.full((8, 8, 3), 0.5, np.float32)).all()  # no border: all field


def test_an_oval_fields_vignette_ring_is_outside_the_field() -> None:
    """A circular scope field cut by the image's sides, its edge fading through a grey ring
    (not black): the ring is masked, the skin inside is kept."""
    h, w = 96, 128
    yy, xx = np.mgrid[:h, :w]
    r = np.sqrt((yy - 48) ** 2 + (xx - 64) ** 2)
    image = np.zeros((h, w, 3), np.float32)
    image[:] = np.clip(0.75 - np.clip(r - 50, 0, None) * 0.05, 0.05, 0.75)[..., None]  # ring
    image[r < 12] = (0.35, 0.2, 0.1)  # a brown lesion
    inside = field_of_view(image)
    assert inside[r < 44].all()  # the skin and the lesion
    ring = (r > 52) & (r < 58)
    assert not inside[ring].any()  # the grey ring, brighter than the black-frame threshold
    assert image[ring].max() > 0.12


def test_oval_fields_of_real_scope_images_are_found(fullres_files) -> None:
    """ISIC_0000045 (a circle in black) and ISIC_0000341 (a circle cut by the image sides):
    the corners are outside; a full-frame image (ISIC_0000165) is all field."""
    import cv2

    def fov(name: str) -> np.ndarray:
        (path,) = [f for f in fullres_files if f.name == name]
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        return field_of_view(cv2.resize(rgb, (128, 128), interpolation=cv2.INTER_AREA))

    for name in ("ISIC_0000045.jpg", "ISIC_0000341.jpg"):
        inside = fov(name)
        assert not inside[[0, 0, -1, -1], [0, -1, 0, -1]].any(), name
        assert inside[40:88, 40:88].all(), name
        assert 0.4 < inside.mean() < 0.9, name
    assert fov("ISIC_0000165.jpg").all()


def test_case_scale_is_the_in_field_percentile_and_outside_is_transparent() -> None:
    error = np.zeros((10, 10), np.float32)
    inside = np.zeros((10, 10), bool)
    inside[2:8, 2:8] = True
    error[inside] = np.linspace(0.0, 0.2, 36, dtype=np.float32)
    error[0, 0] = 5.0  # the black field's error must not set the scale
    assert case_vmax(error, inside) == pytest.approx(np.percentile(error[inside], 99))
    rgba = colorize_in_field(error, 0.2, inside)
    assert rgba.shape == (10, 10, 4)
    assert (rgba[..., 3][~inside] == 0).all() and (rgba[..., 3][inside] == 255).all()
