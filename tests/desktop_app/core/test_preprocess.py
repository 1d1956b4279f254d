"""The one preprocessing: deterministic, bit-identical across processes, cheap on big originals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.preprocess import (
    PreprocessConfig,
    decode_for_model,
    hair_mask,
    preprocess_array,
    preprocess_file,
    remove_hair,
    working_size,
)

REPO = Path(__file__).resolve().parents[3]


def test_output_contract(isic9_test_files: list[Path]) -> None:
    x = preprocess_file(isic9_test_files[0])
    assert x.shape == (128, 128, 3)
    assert x.dtype == np.float32
    assert float(x.min()) >= 0.0 and float(x.max()) <= 1.0
    assert x.std() > 0.01


def test_bit_identical_across_calls(isic9_test_files: list[Path], fullres_files: list[Path]) -> None:
    for path in [*isic9_test_files[:5], *fullres_files[:3]]:
        a = preprocess_file(path)
        b = preprocess_file(path)
        assert a.tobytes() == b.tobytes()


def test_bit_identical_in_a_fresh_process(isic9_test_files: list[Path], fullres_files: list[Path]) -> None:
    """What the app computes in its own process equals what training computed in another."""
    paths = [str(isic9_test_files[7]), str(fullres_files[-1])]
    code = (
        "import sys, json, hashlib\n"
        "from desktop_app.core.preprocess import preprocess_file\n"
        "print(json.dumps([hashlib.sha256(preprocess_file(p).tobytes()).hexdigest()"
        " for p in sys.argv[1:]]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *paths], capture_output=True, text=True, check=True, cwd=REPO
    )
    import hashlib

    here = [hashlib.sha256(preprocess_file(p).tobytes()).hexdigest() for p in paths]
    assert json.loads(out.stdout) == here


def test_hair_removal_changes_hairy_pixels_only(isic9_test_files: list[Path]) -> None:
    from desktop_app.core.imageio import read_image

    rgb = read_image(isic9_test_files[0]).copy()
    # Draw synthetic dark "hairs" across the lesion.
    rgb[60:62, :, :] = 10
    rgb[:, 100:102, :] = 10
    cfg = PreprocessConfig()
    mask = hair_mask(rgb, cfg)
    assert mask[61, 20] == 255 and mask[30, 101] == 255
    cleaned = remove_hair(rgb, cfg)
    assert cleaned[61, 20].mean() > 40  # the hair line was inpainted
    untouched = mask == 0
    assert np.array_equal(cleaned[untouched], rgb[untouched])


def test_hair_removal_can_be_switched_off(isic9_test_files: list[Path]) -> None:
    on = preprocess_file(isic9_test_files[0], PreprocessConfig(hair_removal=True))
    off = preprocess_file(isic9_test_files[0], PreprocessConfig(hair_removal=False))
    assert on.shape == off.shape
    assert not np.array_equal(on, off)


def test_fullres_original_decoded_at_working_resolution(fullres_files: list[Path]) -> None:
    biggest = max(fullres_files, key=lambda p: p.stat().st_size)
    rgb = decode_for_model(biggest)
    # A 3872x2592 original is decoded at a reduced DCT scale, not in full.
    assert max(rgb.shape[:2]) < 1000
    assert min(rgb.shape[:2]) >= 256
    assert preprocess_file(biggest).shape == (128, 128, 3)


def test_working_size_rules() -> None:
    cfg = PreprocessConfig()
    assert working_size(180, 180, cfg) == (180, 180)  # never upscaled
    assert working_size(3872, 2592, cfg) == (256, 171)
    # Extreme aspect: short side kept at the output size.
    assert working_size(2000, 100, cfg)[1] == 100
    assert working_size(4000, 500, cfg)[1] == 128


def test_config_round_trip_and_validation() -> None:
    cfg = PreprocessConfig(hair_threshold=12, inpaint_radius=2.5)
    assert PreprocessConfig.from_json(cfg.to_json()) == cfg
    assert cfg.digest() != PreprocessConfig().digest()
    with pytest.raises(ValueError, match="unknown preprocessing parameters"):
        PreprocessConfig.from_dict({"size": 128, "bogus": 1})
    with pytest.raises(ValueError, match="blackhat_shape"):
        PreprocessConfig(blackhat_shape="star")


def test_preprocess_array_rejects_wrong_input() -> None:
    with pytest.raises(ValueError, match="uint8 RGB"):
        preprocess_array(np.zeros((10, 10), dtype=np.uint8))
