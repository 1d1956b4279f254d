"""Decoding: every odd-but-valid input converts, every bad input gets a typed error."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core import errors
from desktop_app.core.imageio import list_images, read_image
from tests.support.data import make_bad_files

EXPECTED_ERRORS = {
    "empty": errors.EmptyFileError,
    "truncated": errors.TruncatedImageError,
    "text": errors.NotAnImageError,
    "unsupported": errors.UnsupportedFormatError,
    "bomb": errors.ImageTooLargeError,
    "unreadable": errors.UnreadableFileError,
}


@pytest.mark.parametrize("case", sorted(EXPECTED_ERRORS))
def test_bad_input_gets_typed_error_naming_file(tmp_path: Path, case: str) -> None:
    path = make_bad_files(tmp_path)[case]
    with pytest.raises(EXPECTED_ERRORS[case]) as info:
        read_image(path)
    assert info.value.path == str(path)
    assert str(path) in str(info.value)
    assert info.value.reason
    assert isinstance(info.value, errors.ImageError)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(errors.UnreadableFileError, match="not found"):
        read_image(tmp_path / "gone.jpg")


def test_dangling_symlink_is_unreadable(tmp_path: Path) -> None:
    link = tmp_path / "link.jpg"
    link.symlink_to(tmp_path / "nowhere.jpg")
    with pytest.raises(errors.UnreadableFileError):
        read_image(link)


def test_pixel_cap_is_checked_before_decoding(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    # A real 180x180 image is refused under a 10000-pixel cap: the check uses the header.
    with pytest.raises(errors.ImageTooLargeError, match="180x180"):
        read_image(isic9_test_files[0], max_pixels=10_000)


def test_unknown_suffix_and_content_is_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"DICM" + bytes(200))
    with pytest.raises(errors.UnsupportedFormatError):
        read_image(path)


def test_real_jpeg_decodes_rgb(isic9_test_files: list[Path]) -> None:
    rgb = read_image(isic9_test_files[0])
    assert rgb.shape == (180, 180, 3)
    assert rgb.dtype == np.uint8
    assert rgb.std() > 5


def _reference_rgb(isic9_test_files: list[Path]) -> np.ndarray:
    return read_image(isic9_test_files[3])


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "LA", "CMYK", "I;16"])
def test_other_modes_convert_to_rgb(tmp_path: Path, isic9_test_files: list[Path], mode: str) -> None:
    rgb = _reference_rgb(isic9_test_files)
    img = Image.fromarray(rgb)
    if mode == "I;16":
        gray16 = (np.asarray(img.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
        img = Image.fromarray(gray16)
        assert img.mode == "I;16"
        path = tmp_path / "img16.png"
    elif mode == "CMYK":
        img = img.convert("CMYK")
        path = tmp_path / "cmyk.jpg"
    elif mode == "P":
        img = img.quantize(256)
        path = tmp_path / "palette.png"
    else:
        img = img.convert(mode)
        path = tmp_path / f"img_{mode}.png"
    img.save(path)
    out = read_image(path)
    assert out.shape == (180, 180, 3)
    assert out.dtype == np.uint8
    if mode in ("L", "LA", "I;16"):
        gray = np.asarray(Image.fromarray(rgb).convert("L"), dtype=np.int16)
        assert np.abs(out[:, :, 0].astype(np.int16) - gray).max() <= 1
        assert np.array_equal(out[:, :, 0], out[:, :, 2])
    else:
        # Colour survives the round trip (palette and CMYK JPEG are lossy).
        assert np.abs(out.astype(np.int16) - rgb.astype(np.int16)).mean() < 12


def test_transparent_pixels_composite_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((20, 20, 4), dtype=np.uint8)
    rgba[:10, :, :] = (200, 30, 30, 255)
    path = tmp_path / "alpha.png"
    Image.fromarray(rgba, mode="RGBA").save(path)
    out = read_image(path)
    assert tuple(out[0, 0]) == (200, 30, 30)
    assert tuple(out[15, 0]) == (255, 255, 255)


def test_exif_orientation_is_applied(tmp_path: Path, fullres_files: list[Path]) -> None:
    src = read_image(fullres_files[0])
    plain = tmp_path / "plain.png"
    rotated = tmp_path / "rotated.png"
    Image.fromarray(src).save(plain)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: display after rotating 90 degrees clockwise
    Image.fromarray(src).save(rotated, exif=exif)
    assert np.array_equal(read_image(rotated), np.rot90(read_image(plain), k=-1))


def test_exif_orientation_with_reduced_jpeg_decode(tmp_path: Path, fullres_files: list[Path]) -> None:
    big = max(fullres_files, key=lambda p: p.stat().st_size)
    with Image.open(big) as img:
        width, height = img.size
        exif = img.getexif()
        exif[0x0112] = 8
        path = tmp_path / "rotated.jpg"
        img.save(path, exif=exif, quality=92)
    out = read_image(path, min_size=(256, 256))
    assert out.shape[0] > out.shape[1] if width > height else out.shape[0] < out.shape[1]
    assert min(out.shape[:2]) >= 256
    assert max(out.shape[:2]) < max(width, height)


def test_non_ascii_path(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    folder = tmp_path / "Läsionen ü β 病变"
    folder.mkdir()
    target = folder / "bild ß.jpg"
    shutil.copy(isic9_test_files[0], target)
    assert np.array_equal(read_image(target), read_image(isic9_test_files[0]))


def test_list_images_filters_folders_but_keeps_named_files(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    sub = tmp_path / "sub"
    sub.mkdir()
    shutil.copy(isic9_test_files[0], tmp_path / "b.jpg")
    shutil.copy(isic9_test_files[1], sub / "a.JPG")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.jpg").write_bytes(b"")
    assert [p.name for p in list_images([tmp_path])] == ["b.jpg"]
    assert sorted(p.name for p in list_images([tmp_path], recursive=True)) == ["a.JPG", "b.jpg"]
    assert list_images([tmp_path / "notes.txt"]) == [tmp_path / "notes.txt"]
