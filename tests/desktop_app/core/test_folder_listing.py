"""Which files inside an opened folder get a row (issue 14.2): images DermScreen reads, and
images it does not read (a row saying why); never files that are not images at all."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.core.base.errors import UnsupportedFormatError
from desktop_app.core.imaging.imageio import UNSUPPORTED_IMAGE_SUFFIXES, list_images, read_image


def test_unsupported_images_are_listed_and_non_images_are_not(
        tmp_path: Path, isic9_test_files: list[Path]) -> None:
    shutil.copy(isic9_test_files[0], tmp_path / "lesion.jpg")
    Image.new("RGB", (8, 8)).save(tmp_path / "clip.gif")
    for name in ("scan.dcm", "photo.HEIC", "x.jp2"):
        (tmp_path / name).write_bytes(b"\0" * 64)
    for name in ("notes.txt", "results.csv", "meta.json", "README.md", "report.pdf", ".hidden.gif"):
        (tmp_path / name).write_text("x", encoding="utf-8")
    listed = [p.name for p in list_images([tmp_path])]
    assert listed == ["clip.gif", "lesion.jpg", "photo.HEIC", "scan.dcm", "x.jp2"]


@pytest.mark.parametrize(("name", "words"), [("clip.gif", "GIF"),
                                              ("photo.heic", "HEIC"), ("x.jp2", "JPEG 2000")])
def test_an_unsupported_image_says_its_format(tmp_path: Path, name: str, words: str) -> None:
    path = tmp_path / name
    if name.endswith(".gif"):
        Image.new("RGB", (8, 8)).save(path)
    else:
        path.write_bytes(b"\0\1\2\3" * 32)
    assert UNSUPPORTED_IMAGE_SUFFIXES[path.suffix] in (words, "JPEG 2000")
    with pytest.raises(UnsupportedFormatError) as info:
        read_image(path)
    # Pillow may read the header (GIF) or not (DICOM): either way the format is named.
    assert info.value.reason.startswith(f"unsupported image format {words}")
    assert info.value.reason_code == "unsupported_format"
