"""DICOM input: built from real shared images, read by content, refused from the header."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.base import errors
from desktop_app.core.imaging import dicom_read
from desktop_app.core.imaging.imageio import list_images, read_file, read_image
from tests.support import dicom_inputs as di


@pytest.fixture
def jpeg(isic9_test_files: list[Path]) -> Path:
    return isic9_test_files[0]


@pytest.mark.parametrize(("build", "max_diff"), [
    (di.dermoscopy_native, 0.0), (di.vl_photographic, 0.0), (di.ybr_full, 1.0),
    (di.dermoscopy_jpeg, 2.0), (di.palette_colour, 12.0),
])
def test_colour_objects_decode_to_the_images_pixels(tmp_path: Path, jpeg: Path, build, max_diff) -> None:
    path = build(jpeg, tmp_path / "x.dcm")
    rgb = read_image(path)
    ref = di.rgb_of(jpeg)
    assert rgb.shape == ref.shape and rgb.dtype == np.uint8
    # Native RGB is exact; YBR is rounded, JPEG decoders differ slightly, a palette quantises.
    assert np.abs(rgb.astype(int) - ref).mean() <= max_diff
    assert np.abs(rgb.astype(int) - ref).max() <= (0 if max_diff == 0 else 255)


@pytest.mark.parametrize("syntax", ["1.2.840.10008.1.2.5", "1.2.840.10008.1.2.4.80",
                                    "1.2.840.10008.1.2.4.90"])
def test_lossless_transfer_syntaxes_decode_exactly(tmp_path: Path, jpeg: Path, syntax: str) -> None:
    """RLE (pydicom), JPEG-LS (pyjpegls), JPEG 2000 (Pillow / openjpeg): the same pixels."""
    path = di.compressed(jpeg, tmp_path / "x.dcm", syntax)
    assert str(dicom_read.header(read_file(path)).file_meta.TransferSyntaxUID) == syntax
    assert np.array_equal(read_image(path), di.rgb_of(jpeg))


def test_dicom_is_found_by_content_not_name(tmp_path: Path, jpeg: Path) -> None:
    di.dermoscopy_native(jpeg, tmp_path / "IM0001")
    di.dermoscopy_native(jpeg, tmp_path / "1.2.840.99.7")  # a UID-named export: suffix ".7"
    (tmp_path / "notes.txt").write_text("DICM? no", encoding="utf-8")
    (tmp_path / "README").write_bytes(b"x" * 200)
    listed = sorted(p.name for p in list_images([tmp_path]))
    assert listed == ["1.2.840.99.7", "IM0001"]
    assert read_image(tmp_path / "IM0001").shape == (180, 180, 3)


def test_each_frame_of_a_multiframe_object_is_a_row(tmp_path: Path,
                                                    isic9_test_files: list[Path]) -> None:
    path = di.multiframe(isic9_test_files[:3], tmp_path / "mf.dcm")
    rows = list_images([tmp_path])
    assert [p.name for p in rows] == ["mf.dcm#frame1", "mf.dcm#frame2", "mf.dcm#frame3"]
    assert list_images([path]) == rows  # named alone too
    for row, src in zip(rows, isic9_test_files[:3], strict=True):
        assert np.array_equal(read_image(row), di.rgb_of(src))
    # One hash per frame: reviews kept by hash stay per frame.
    assert len({read_file(r).sha256 for r in rows}) == 3
    with pytest.raises(errors.NotAnImageError, match="3 frames, no frame 4"):
        read_image(dicom_read.frame_path(path, 4))


def test_case_fields_are_kept_and_identity_is_not_in_repr(tmp_path: Path, jpeg: Path) -> None:
    path = di.dermoscopy_jpeg(jpeg, tmp_path / "x.dcm")
    case = dicom_read.read_case(read_file(path))
    assert case is not None
    assert (case.patient_id, case.patient_name, case.patient_birth_date) == \
        ("MRN-0042", "Doe^Jane", "19700101")
    assert case.study_instance_uid == di.STUDY_UID and case.modality == "DMS"
    assert case.sop_class_uid == di.DERMOSCOPY and case.study_date == "20260301"
    assert case.body_site == "Abdomen" and case.lesion_id == "3"
    assert "Doe" not in repr(case) and "MRN-0042" not in repr(case)
    assert case.identity_line() == "MRN-0042 · Doe Jane · born 1970-01-01"


@pytest.mark.parametrize(("build", "code", "words"), [
    (di.no_pixel_data, "not_an_image", "has no pixel data"),
    (di.huge_rows_columns, "too_large", "65535x65535"),
    (di.wrong_photometric, "unsupported_format", "greyscale (MONOCHROME2)"),
    (lambda j, o: di.wrong_photometric(j, o, "PALETTE COLOR"), "not_an_image",
     "needs SamplesPerPixel 1"),
    (lambda j, o: di.wrong_photometric(j, o, "CMYK"), "unsupported_format", "'CMYK'"),
    (di.truncated, "truncated", "truncated"),
])
def test_hostile_objects_are_refused_with_a_reason(tmp_path: Path, jpeg: Path, build, code,
                                                   words) -> None:
    path = build(jpeg, tmp_path / "bad.dcm")
    with pytest.raises(errors.ImageError) as info:
        read_image(path)
    assert info.value.reason_code == code
    assert words in info.value.reason


def test_huge_rows_are_refused_before_any_pixel_is_decoded(tmp_path: Path, jpeg: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from pydicom.dataset import Dataset

    def no_decoding(self: Dataset) -> None:
        raise AssertionError("pixel data decoded")

    monkeypatch.setattr(Dataset, "pixel_array", property(no_decoding))
    path = di.dermoscopy_native(jpeg, tmp_path / "x.dcm")
    with pytest.raises(errors.ImageTooLargeError, match="over the 0 megapixel limit"):
        read_image(path, max_pixels=1000)


def test_a_dcm_without_the_part10_header_says_so(tmp_path: Path, jpeg: Path) -> None:
    path = tmp_path / "old.dcm"
    path.write_bytes(di.dermoscopy_native(jpeg, tmp_path / "ok.dcm").read_bytes()[132:])
    assert [p.name for p in list_images([tmp_path])] == ["ok.dcm", "old.dcm"]
    with pytest.raises(errors.UnsupportedFormatError, match="Part 10"):
        read_image(path)


def test_a_fifo_named_like_dicom_is_never_read(tmp_path: Path, jpeg: Path) -> None:
    import os

    os.mkfifo(tmp_path / "pipe")
    shutil.copy(di.dermoscopy_native(jpeg, tmp_path / "a.dcm"), tmp_path / "b")
    assert sorted(p.name for p in list_images([tmp_path])) == ["a.dcm", "b"]
