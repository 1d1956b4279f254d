"""The one preprocessing: deterministic, bit-identical across processes, cheap on big originals."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.base import errors
from desktop_app.core.imaging.preprocess import (
    MAX_ASPECT_RATIO,
    PreprocessConfig,
    blackhat_kernel_size,
    decode_for_model,
    hair_mask,
    inpaint_radius_at,
    max_work_side,
    preprocess_array,
    preprocess_file,
    remove_hair,
    working_size,
)

REPO = Path(__file__).resolve().parents[4]


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
        "from desktop_app.core.imaging.preprocess import preprocess_file\n"
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
    from desktop_app.core.imaging.imageio import read_image

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
    # Up to 4:1 the short side is kept at the output size...
    assert working_size(2000, 500, cfg) == (512, 128)
    assert working_size(300, 600, cfg) == (128, 256)
    # ...beyond it (arrays the decoder did not check) the long side is capped instead,
    # so the black-hat kernel and inpainting radius stay bounded.
    assert working_size(2000, 100, cfg) == (512, 26)
    assert working_size(128, 20000, cfg) == (3, 512)
    assert max(working_size(10**6, 7, cfg)) == max_work_side(cfg) == 512


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


def _save(path: Path, rgb: np.ndarray) -> Path:
    from PIL import Image

    Image.fromarray(rgb).save(path)
    return path


def test_extreme_aspect_ratio_refused_from_the_header(tmp_path: Path) -> None:
    """128x20000 once ran for minutes (inpainting radius grew with the long side)."""
    rng = np.random.default_rng(0)
    tall = _save(tmp_path / "tall.jpg", rng.integers(0, 255, (20000, 128, 3), dtype=np.uint8))
    with pytest.raises(errors.ExtremeAspectError, match="128x20000") as info:
        preprocess_file(tall)
    assert info.value.reason_code == "extreme_aspect"
    assert "at most 4:1" in info.value.reason
    # Exactly 4:1 is a photograph we still analyse.
    edge = _save(tmp_path / "wide.png", rng.integers(0, 255, (128, 512, 3), dtype=np.uint8))
    assert preprocess_file(edge).shape == (128, 128, 3)
    assert MAX_ASPECT_RATIO == 4.0


def test_tiny_and_blank_images_are_refused(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    one = _save(tmp_path / "one.png", np.full((1, 1, 3), 90, np.uint8))
    with pytest.raises(errors.ImageTooSmallError, match="1x1"):
        preprocess_file(one)
    small = _save(tmp_path / "thumb.png", np.random.default_rng(1).integers(0, 255, (20, 40, 3),
                                                                             dtype=np.uint8))
    with pytest.raises(errors.ImageTooSmallError, match="40x20"):
        preprocess_file(small)
    for colour in ((0, 0, 0), (255, 255, 255), (200, 30, 30)):
        blank = _save(tmp_path / "blank.jpg", np.full((300, 400, 3), colour, np.uint8))
        with pytest.raises(errors.BlankImageError, match="blank") as info:
            preprocess_file(blank)
        assert info.value.reason_code == "blank_image"
    # A real lesion photograph is none of these.
    assert preprocess_file(isic9_test_files[0]).std() > 0.01


def test_hair_removal_cost_is_bounded_by_the_config() -> None:
    cfg = PreprocessConfig()
    side = max_work_side(cfg)
    assert side == 512
    assert blackhat_kernel_size(side, cfg) <= 101 and inpaint_radius_at(side, cfg) <= 25
    # The reference sizes are unchanged: 17 and 3 at 180 px, 25 and ~4.3 at 256 px.
    assert blackhat_kernel_size(180, cfg) == 17 and inpaint_radius_at(180, cfg) == 3.0
    assert blackhat_kernel_size(256, cfg) == 25


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"hair_ref_side": 0}, "hair_ref_side"),
        ({"max_pixels": 1}, "max_pixels"),
        ({"inpaint_radius": float("nan")}, "inpaint_radius"),
        ({"inpaint_radius": 20.0, "hair_ref_side": 16}, "grows to"),
        ({"blackhat_kernel": 63, "hair_ref_side": 16}, "grows to"),
        ({"size": 4096}, "size"),
        ({"hair_work_max_side": 100_000}, "hair_work_max_side"),
        ({"version": 2}, "preprocessing version"),
        ({"size": "128"}, "size"),
        ({"hair_removal": "yes"}, "hair_removal"),
    ],
)
def test_config_values_out_of_range_are_refused(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        PreprocessConfig(**kwargs)


def test_skipping_inpainting_on_an_empty_mask_is_bit_identical(
    isic9_test_files: list[Path], fullres_files: list[Path]
) -> None:
    """remove_hair returns its input when the mask is empty; Telea would return it unchanged too."""
    import cv2

    from desktop_app.core.imaging.preprocess import inpaint_radius_at

    cfg = PreprocessConfig(hair_threshold=255)  # nothing exceeds 255: the mask is empty
    for path in [*isic9_test_files[::30], fullres_files[0]]:
        rgb = decode_for_model(path)
        work = working_size(rgb.shape[1], rgb.shape[0], cfg)
        rgb = np.ascontiguousarray(cv2.resize(rgb, work, interpolation=cv2.INTER_AREA))
        mask = hair_mask(rgb, cfg)
        assert not mask.any()
        radius = inpaint_radius_at(max(rgb.shape[:2]), cfg)
        telea = cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA)
        skipped = remove_hair(rgb, cfg)
        assert skipped.tobytes() == telea.tobytes() == rgb.tobytes()


# --- the classifier's own input (issue 34): field-of-view crop, several inputs from one decode ---


def test_field_of_view_crop_drops_a_black_frame_but_never_a_dark_lesion() -> None:
    from desktop_app.core.imaging.preprocess import crop_field_of_view, field_of_view_box

    img = np.zeros((200, 300, 3), np.uint8)
    img[20:180, 40:260] = 150
    img[90:110, 140:160] = 5  # a dark lesion in the middle stays inside
    assert field_of_view_box(img) == (20, 180, 40, 260)
    assert crop_field_of_view(img).shape == (160, 220, 3)
    # A circular aperture keeps (about) its bounding square, not the black corners' rows.
    yy, xx = np.mgrid[:240, :240]
    disc = np.where(((yy - 120) ** 2 + (xx - 120) ** 2 < 100**2)[..., None], 140, 0).astype(np.uint8)
    disc = np.repeat(disc, 3, axis=2)
    top, bottom, left, right = field_of_view_box(disc)
    assert 20 < top < 40 and 200 < bottom < 220 and 20 < left < 40 and 200 < right < 220
    # A dark image (or a frame that would leave less than half) is not cropped.
    dark = np.full((100, 100, 3), 10, np.uint8)
    dark[45:55, 45:55] = 200
    assert field_of_view_box(dark) == (0, 100, 0, 100)


def test_crop_flag_is_part_of_the_config_and_absent_by_default() -> None:
    assert "crop_field_of_view" not in PreprocessConfig().to_dict()
    cfg = PreprocessConfig(size=254, hair_removal=False, hair_work_max_side=254,
                           crop_field_of_view=True)
    assert PreprocessConfig.from_json(cfg.to_json()) == cfg
    assert cfg.digest() != PreprocessConfig(size=254, hair_removal=False,
                                            hair_work_max_side=254).digest()
    with pytest.raises(ValueError, match="crop_field_of_view"):
        PreprocessConfig(crop_field_of_view=1)


def test_cropped_input_of_a_framed_real_image(isic9_test_files) -> None:
    from desktop_app.core.imaging.preprocess import decode_for_model, preprocess_array

    cfg = PreprocessConfig(size=96, hair_removal=False, hair_work_max_side=96,
                           crop_field_of_view=True)
    rgb = decode_for_model(isic9_test_files[0], cfg)
    framed = np.zeros((rgb.shape[0] + 60, rgb.shape[1] + 60, 3), np.uint8)
    framed[30:-30, 30:-30] = rgb
    # With the frame cropped the classifier sees what it sees without the frame.
    np.testing.assert_allclose(preprocess_array(framed, cfg), preprocess_array(rgb, cfg), atol=1e-6)


def test_one_decode_serves_inputs_of_different_sides(fullres_files) -> None:
    from desktop_app.core.imaging.imageio import read_file
    from desktop_app.core.imaging.preprocess import decode_bytes_for_inputs, preprocess_inputs

    small = PreprocessConfig()
    big = PreprocessConfig(size=254, hair_removal=False, hair_work_max_side=320)
    rgb = decode_bytes_for_inputs(read_file(fullres_files[0]), [small, big])
    assert min(rgb.shape[:2]) >= 320  # the larger working side decides the decode
    out = preprocess_inputs(rgb, {"image": small, "image_hr": big})
    assert out["image"].shape == (128, 128, 3) and out["image_hr"].shape == (254, 254, 3)
