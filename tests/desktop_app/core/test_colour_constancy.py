"""Shades of Gray colour constancy as a preprocessing option (issue 13, item 3)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop_app.core.imaging.preprocess import (
    PreprocessConfig,
    preprocess_array,
    preprocess_file,
    remove_hair,
    shades_of_gray,
)

SOG = PreprocessConfig(colour_constancy="shades_of_gray")


def _rgb(path: Path) -> np.ndarray:
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


def _p_means(rgb: np.ndarray, power: int = 6) -> np.ndarray:
    px = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    return np.mean(px**power, axis=0) ** (1 / power)


def test_the_illuminant_becomes_neutral(isic9_test_files: list[Path]) -> None:
    for path in isic9_test_files[:6]:
        rgb = _rgb(path)
        before, after = _p_means(rgb), _p_means(shades_of_gray(rgb))
        assert np.ptp(after) < 0.25 * np.ptp(before) + 0.01, path.name  # channels pulled together
        assert shades_of_gray(rgb).dtype == np.uint8 and shades_of_gray(rgb).shape == rgb.shape


def _chromaticity(rgb: np.ndarray) -> np.ndarray:
    px = rgb.reshape(-1, 3).astype(np.float64) + 1.0
    return px / px.sum(axis=1, keepdims=True)


def test_a_colour_cast_is_mostly_undone(isic9_test_files: list[Path]) -> None:
    # Colour constancy holds up to a global brightness: compare chromaticities.
    rgb = _rgb(isic9_test_files[0])
    cast = np.clip(rgb.astype(np.float32) * np.float32([0.75, 1.0, 0.9]), 0, 255).astype(np.uint8)
    plain_gap = np.abs(_chromaticity(cast) - _chromaticity(rgb)).mean()
    corrected_gap = np.abs(_chromaticity(shades_of_gray(cast)) - _chromaticity(shades_of_gray(rgb))).mean()
    assert corrected_gap < 0.25 * plain_gap


def test_a_black_channel_is_left_alone() -> None:
    rgb = np.zeros((40, 40, 3), np.uint8)
    rgb[..., 0] = np.arange(40, dtype=np.uint8)[:, None] * 6
    assert np.array_equal(shades_of_gray(rgb), rgb)


def test_pipeline_applies_it_after_hair_removal(isic9_test_files: list[Path]) -> None:
    path = isic9_test_files[1]
    rgb = _rgb(path)
    manual = cv2.resize(shades_of_gray(remove_hair(rgb, SOG)), (128, 128), interpolation=cv2.INTER_AREA)
    expected = manual.astype(np.float32) / 255.0
    assert np.allclose(preprocess_array(rgb, SOG), expected, atol=1e-6)
    assert np.array_equal(preprocess_file(path, SOG), preprocess_array(rgb, SOG))
    assert not np.allclose(preprocess_file(path, SOG), preprocess_file(path, PreprocessConfig()))


def test_the_reference_configuration_is_unchanged() -> None:
    plain = PreprocessConfig()
    assert "colour_constancy" not in plain.to_dict()  # old models' metadata and cache keys stay
    assert PreprocessConfig.from_dict(plain.to_dict()) == plain
    assert SOG.to_dict()["colour_constancy"] == "shades_of_gray"
    assert PreprocessConfig.from_dict(SOG.to_dict()) == SOG
    assert SOG.digest() != plain.digest()
    with pytest.raises(ValueError, match="colour_constancy"):
        PreprocessConfig(colour_constancy="grey_world")
