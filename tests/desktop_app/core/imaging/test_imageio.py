"""Decoding: every odd-but-valid input converts, every bad input gets a typed error."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from desktop_app.core.base import errors
from desktop_app.core.imaging.imageio import (
    decode_image,
    file_sha256,
    list_images,
    read_file,
    read_image,
)
from tests.support.data import make_bad_files

REPO = Path(__file__).resolve().parents[4]

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


# --- non-regular files, one read, size caps, 16-bit --------------------------------


def _socket_at(path: Path):
    import socket

    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(path))
    return sock


def test_non_regular_files_are_refused_before_any_read(tmp_path: Path) -> None:
    """A FIFO or /dev/zero would block or never end if read: refused from stat alone."""
    import os

    os.mkfifo(tmp_path / "pipe.jpg")  # no writer: a blocking read would hang this test
    (tmp_path / "zero.jpg").symlink_to("/dev/zero")
    (tmp_path / "folder.jpg").mkdir()
    sock = _socket_at(tmp_path / "sock.jpg")
    try:
        kinds = {"pipe.jpg": "named pipe", "zero.jpg": "character device",
                 "folder.jpg": "folder", "sock.jpg": "socket"}
        for name, kind in kinds.items():
            with pytest.raises(errors.NotARegularFileError, match=kind) as info:
                read_image(tmp_path / name)
            assert info.value.reason_code == "unreadable"
            assert "refused without reading it" in info.value.reason
            with pytest.raises(OSError, match="not a regular file"):
                file_sha256(tmp_path / name)
    finally:
        sock.close()


def test_hash_is_of_the_bytes_decoded(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    src = isic9_test_files[0]
    path = tmp_path / "a.jpg"
    shutil.copy(src, path)
    blob = read_file(path)
    # The file is replaced after the one read: the hash and the pixels stay those of the bytes read.
    shutil.copy(isic9_test_files[1], path)
    assert blob.sha256 == hashlib.sha256(src.read_bytes()).hexdigest() == file_sha256(src)
    assert np.array_equal(decode_image(blob), read_image(src))
    assert file_sha256(path) != blob.sha256


def test_file_size_cap(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    src = isic9_test_files[0]
    with pytest.raises(errors.ImageTooLargeError, match="file size limit"):
        read_file(src, max_bytes=src.stat().st_size - 1)
    assert read_file(src, max_bytes=src.stat().st_size).data == src.read_bytes()


def test_16_bit_png_exact_rounding_in_integers(tmp_path: Path) -> None:
    """Every 16-bit value maps to round(v / 257), the old float64 formula, without float64."""
    values = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    path = tmp_path / "all16.png"
    Image.fromarray(values).save(path)
    out = read_image(path)
    want = np.clip(np.rint(values.astype(np.float64) * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    assert out.shape == (256, 256, 3)
    assert np.array_equal(out[:, :, 0], want) and np.array_equal(out[:, :, 2], want)


def test_16_bit_png_memory_stays_near_the_8_bit_output(tmp_path: Path) -> None:
    """A 6000x6000 16-bit PNG (36 MP) decodes in well under float64's 8 bytes per pixel.

    Measured as the child process's peak RSS growth over its own start (numbers,
    not time): the decoded RGB is 108 MB, the 16-bit image 72 MB; float64 alone
    would be 288 MB per copy (the old path peaked near 1 GB here).
    """
    path = tmp_path / "big16.png"
    gradient = (np.arange(6000, dtype=np.uint32) * 10).astype(np.uint16)
    Image.fromarray(np.broadcast_to(gradient[:, None], (6000, 6000)).copy()).save(path)
    code = (
        "import resource, sys\n"
        "from desktop_app.core.imaging.imageio import read_image\n"
        "import numpy, PIL.Image, cv2\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "rgb = read_image(sys.argv[1])\n"
        "after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(rgb.shape[0], rgb.shape[1], (after - before) // 1024)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, cwd=REPO, check=True, timeout=300)
    height, width, grown_mb = map(int, proc.stdout.split())
    assert (height, width) == (6000, 6000)
    assert grown_mb < 400, f"decoding grew the process by {grown_mb} MB"
