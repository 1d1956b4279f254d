"""Read DICOM dermoscopy objects: detect by content, check the header, decode one frame to RGB.

A file is DICOM when its bytes hold the Part 10 preamble (``DICM`` at byte 128),
whatever its name (PACS exports are often named ``IM0001`` or by UID). The
header is checked *before* any pixel is decoded, with the same limits the
engine applies to every image (:func:`desktop_app.core.imaging.imageio.decode_image`'s
``max_pixels``, ``min_side``, ``max_aspect``): Rows x Columns per frame,
SamplesPerPixel, BitsAllocated, the frame asked for against NumberOfFrames and,
for native pixel data, its length against what the header promises.

Colour: RGB, YBR_FULL, YBR_FULL_422 (pydicom converts YBR to RGB), both planar
configurations, PALETTE COLOR (through its lookup table), and the JPEG, JPEG-LS
and JPEG 2000 transfer syntaxes through the pylibjpeg / pyjpegls plugins.
Greyscale objects (CT, X-ray) are refused: DermScreen judges colour dermoscopy.

Multi-frame: each frame is a row, named ``file.dcm#frame2`` (1-based,
:func:`frame_path`); :func:`desktop_app.core.imaging.imageio.read_file` reads the file
behind such a name. pydicom is imported only when a DICOM file is met.
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from desktop_app.core.base.errors import (
    ExtremeAspectError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    TruncatedImageError,
    UnsupportedFormatError,
)
from desktop_app.core.imaging.dicom_case import FRAME_MARK, DicomCase

if TYPE_CHECKING:
    from pydicom.dataset import Dataset

    from desktop_app.core.imaging.regular_file import ImageBytes

PREAMBLE_BYTES = 128
MAGIC = b"DICM"
DICOM_SUFFIXES = frozenset({".dcm", ".dicom"})
# A header (everything before the pixel data) larger than this is not a photograph's.
MAX_HEADER_BYTES = 16 * 2**20
COLOUR_PHOTOMETRICS = frozenset({"RGB", "YBR_FULL", "YBR_FULL_422", "YBR_ICT", "YBR_RCT",
                                 "PALETTE COLOR"})
# SOP classes named in error messages and reports.
SOP_CLASS_NAMES = {
    "1.2.840.10008.5.1.4.1.1.77.1.7": "Dermoscopic Photography Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4": "VL Photographic Image",
    "1.2.840.10008.5.1.4.1.1.7": "Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.7.4": "Multi-frame True Color Secondary Capture Image",
    "1.2.840.10008.5.1.4.1.1.77.1.4.1": "Video Photographic Image",
}
_FRAME_RE = re.compile(re.escape(FRAME_MARK) + r"([1-9][0-9]{0,5})$")


def is_dicom_bytes(data: bytes) -> bool:
    """True when ``data`` starts with a DICOM Part 10 preamble and ``DICM`` prefix."""
    return len(data) >= PREAMBLE_BYTES + 4 and data[PREAMBLE_BYTES:PREAMBLE_BYTES + 4] == MAGIC


def frame_path(path: str | Path, frame: int) -> Path:
    """The row name of one frame (1-based) of a multi-frame object."""
    return Path(f"{os.fspath(path)}{FRAME_MARK}{frame}")


def split_frame(path: str | Path) -> tuple[Path, int | None]:
    """``file.dcm#frame2`` -> (``file.dcm``, 2); any other path -> (path, None)."""
    text = os.fspath(path)
    match = _FRAME_RE.search(text)
    if match is None:
        return Path(text), None
    return Path(text[: match.start()]), int(match.group(1))


def sniff_dicom(path: Path) -> bool:
    """Whether the regular file at ``path`` is DICOM by content (reads 132 bytes; never blocks)."""
    from desktop_app.core.imaging.regular_file import open_regular

    try:
        fd, _ = open_regular(path)
    except OSError:
        return False
    with open(fd, "rb") as fh:
        try:
            return is_dicom_bytes(fh.read(PREAMBLE_BYTES + 4))
        except OSError:
            return False


def read_dataset(source: Any, path: Path, *, header_only: bool) -> Dataset:
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pydicom warns on every odd value; we judge below
            return pydicom.dcmread(source, stop_before_pixels=header_only)
    except InvalidDicomError as exc:
        raise NotAnImageError(path, f"not a readable DICOM file ({exc})") from None
    except (EOFError, struct.error) as exc:
        raise TruncatedImageError(path, f"DICOM file is truncated ({exc or 'ends early'})") from None
    except MemoryError:
        raise ImageTooLargeError(path, "not enough memory to read this DICOM file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            NotImplementedError, OverflowError) as exc:
        raise NotAnImageError(path, f"corrupt DICOM file ({type(exc).__name__}: {exc})") from None


def frames_in(path: Path) -> int:
    """NumberOfFrames of the DICOM file at ``path`` from its header (1 if absent or unreadable).

    Used when a folder is listed, so a multi-frame object gives one row per
    frame; an unreadable header gives one row, which then says why.
    """
    from desktop_app.core.imaging.regular_file import open_regular

    try:
        fd, st = open_regular(path)
    except OSError:
        return 1
    with open(fd, "rb") as fh:
        try:
            ds = read_dataset(fh, path, header_only=True)
        except Exception:  # the row made for this file reports the reason
            return 1
    frames = _int(ds.get("NumberOfFrames", 1), 1)
    # More frames than the file has bytes for is a lie; the row will say so.
    return frames if 1 <= frames <= max(1, st.st_size // 64) else 1


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword, "")
    if value is None:
        return ""
    return str(value).strip().replace("\x00", "")


def _body_site(ds: Dataset) -> str:
    seq = ds.get("AnatomicRegionSequence")
    if seq:
        item = seq[0]
        meaning = str(item.get("CodeMeaning", "")).strip()
        mods = item.get("AnatomicRegionModifierSequence") or []
        extra = [str(m.get("CodeMeaning", "")).strip() for m in mods if m.get("CodeMeaning")]
        return ", ".join(p for p in [meaning, *extra] if p)
    return _text(ds, "BodyPartExamined")


def case_of(ds: Dataset, frame: int | None) -> DicomCase:
    """The case fields of ``ds`` (one frame of it when multi-frame)."""
    frames = max(1, _int(ds.get("NumberOfFrames", 1), 1))
    return DicomCase(
        sop_class_uid=_text(ds, "SOPClassUID"),
        sop_instance_uid=_text(ds, "SOPInstanceUID"),
        study_instance_uid=_text(ds, "StudyInstanceUID"),
        series_instance_uid=_text(ds, "SeriesInstanceUID"),
        frame=frame if frames > 1 else None,
        frames=frames,
        modality=_text(ds, "Modality"),
        study_date=_text(ds, "StudyDate"),
        study_time=_text(ds, "StudyTime"),
        study_id=_text(ds, "StudyID"),
        accession_number=_text(ds, "AccessionNumber"),
        referring_physician=_text(ds, "ReferringPhysicianName"),
        body_site=_body_site(ds),
        lesion_id=_text(ds, "LesionNumber"),
        patient_id=_text(ds, "PatientID"),
        patient_name=_text(ds, "PatientName"),
        patient_birth_date=_text(ds, "PatientBirthDate"),
        patient_sex=_text(ds, "PatientSex"),
    )


def read_case(blob: ImageBytes) -> DicomCase | None:
    """The case fields of a DICOM ``blob`` (header only), or None when it is not DICOM or unreadable."""
    if not is_dicom_bytes(blob.data):
        return None
    base, frame = split_frame(blob.path)
    try:
        ds = read_dataset(io.BytesIO(blob.data), base, header_only=True)
    except Exception:  # the decode step already reports why
        return None
    return case_of(ds, frame or 1)


def header(blob: ImageBytes) -> Dataset:
    """The whole dataset of a DICOM ``blob`` (pixel data still encoded); raises ImageError."""
    base, _ = split_frame(blob.path)
    return read_dataset(io.BytesIO(blob.data), base, header_only=False)


def _name(ds: Dataset) -> str:
    uid = _text(ds, "SOPClassUID")
    return SOP_CLASS_NAMES.get(uid, f"SOP class {uid or '(none)'}")


def check_geometry(
    ds: Dataset, path: Path, frame: int | None, *, max_pixels: int, min_side: int = 1,
    max_aspect: float | None = None,
) -> tuple[int, int, int]:
    """Check the pixel module of ``ds`` before decoding; returns (rows, columns, frames)."""
    if "PixelData" not in ds:
        for other in ("FloatPixelData", "DoubleFloatPixelData"):
            if other in ds:
                raise UnsupportedFormatError(path, f"DICOM {_name(ds)} holds {other}, not a "
                                             "colour photograph")
        raise NotAnImageError(path, f"DICOM object ({_name(ds)}) has no pixel data")
    missing = [k for k in ("Rows", "Columns", "SamplesPerPixel", "BitsAllocated",
                           "PhotometricInterpretation") if k not in ds]
    if missing:
        raise NotAnImageError(path, "DICOM pixel module incomplete: missing " + ", ".join(missing))
    rows, cols = _int(ds.Rows, 0), _int(ds.Columns, 0)
    spp, bits = _int(ds.SamplesPerPixel, 0), _int(ds.BitsAllocated, 0)
    frames = _int(ds.get("NumberOfFrames", 1), 0)
    photometric = str(ds.PhotometricInterpretation).strip().upper()
    if rows <= 0 or cols <= 0:
        raise NotAnImageError(path, f"invalid DICOM image size {cols}x{rows}")
    if frames < 1:
        raise NotAnImageError(path, f"invalid DICOM NumberOfFrames {ds.get('NumberOfFrames')!r}")
    if rows * cols > max_pixels:
        raise ImageTooLargeError(
            path, f"DICOM image is {cols}x{rows} = {rows * cols / 1e6:.0f} megapixels, "
            f"over the {max_pixels / 1e6:.0f} megapixel limit",
        )
    if min(rows, cols) < min_side:
        raise ImageTooSmallError(
            path, f"image is only {cols}x{rows} pixels; at least {min_side}x{min_side} are "
            "needed to judge a lesion",
        )
    if max_aspect is not None and max(rows, cols) > max_aspect * min(rows, cols):
        raise ExtremeAspectError(
            path, f"image is {cols}x{rows} (aspect ratio {max(rows, cols) / min(rows, cols):.0f}:1);"
            f" a lesion photograph is at most {max_aspect:g}:1",
        )
    if frame is not None and frame > frames:
        raise NotAnImageError(path, f"DICOM object has {frames} frames, no frame {frame}")
    if photometric.startswith("MONOCHROME"):
        raise UnsupportedFormatError(
            path, f"DICOM {_name(ds)} is greyscale ({photometric}); DermScreen analyses colour "
            "dermoscopy images")
    if photometric not in COLOUR_PHOTOMETRICS:
        raise UnsupportedFormatError(path, f"unsupported DICOM photometric interpretation "
                                     f"{photometric!r}")
    want_spp = 1 if photometric == "PALETTE COLOR" else 3
    if spp != want_spp:
        raise NotAnImageError(path, f"DICOM header is inconsistent: {photometric} needs "
                              f"SamplesPerPixel {want_spp}, the file says {spp}")
    if bits not in ((8, 16) if photometric == "PALETTE COLOR" else (8,)):
        raise UnsupportedFormatError(path, f"unsupported DICOM BitsAllocated {bits} for "
                                     f"{photometric}")
    if not ds.file_meta.TransferSyntaxUID.is_compressed:
        expected = rows * cols * spp * (bits // 8) * frames
        if photometric == "YBR_FULL_422":
            expected = expected * 2 // 3
        got = len(ds.PixelData)
        if got < expected:
            raise TruncatedImageError(path, f"DICOM pixel data is truncated: {got} bytes of the "
                                      f"{expected} the header describes")
    return rows, cols, frames


def decode_dicom(
    blob: ImageBytes, *, max_pixels: int, min_side: int = 1, max_aspect: float | None = None,
) -> np.ndarray:
    """One frame of a DICOM ``blob`` as ``(H, W, 3)`` RGB uint8; raises a typed ImageError."""
    from pydicom.pixels import apply_color_lut

    base, frame = split_frame(blob.path)
    ds = header(blob)
    _, _, frames = check_geometry(ds, base, frame, max_pixels=max_pixels, min_side=min_side,
                                  max_aspect=max_aspect)
    index = (frame or 1) - 1
    photometric = str(ds.PhotometricInterpretation).strip().upper()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.pixel_array_options(index=index if frames > 1 else None, as_rgb=True)
            arr = ds.pixel_array
            if photometric == "PALETTE COLOR":
                arr = _lut_to_uint8(apply_color_lut(arr, ds), ds)
    except MemoryError:
        raise ImageTooLargeError(base, "not enough memory to decode this DICOM image") from None
    except (EOFError, struct.error) as exc:
        raise TruncatedImageError(base, f"DICOM pixel data is truncated ({exc})") from None
    except NotImplementedError as exc:
        raise UnsupportedFormatError(base, f"DICOM pixel data cannot be decoded here ({exc})") \
            from None
    except RuntimeError as exc:
        if "missing dependencies" in str(exc):  # no decoder shipped for this transfer syntax
            raise UnsupportedFormatError(
                base, f"DICOM pixel data in {ds.file_meta.TransferSyntaxUID.name} cannot be "
                "decoded here (no decoder for it is installed)") from None
        raise NotAnImageError(base, f"DICOM pixel data is corrupt ({exc})") from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise NotAnImageError(base, f"DICOM pixel data is corrupt ({type(exc).__name__}: "
                              f"{exc})") from None
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise NotAnImageError(base, f"DICOM pixel data decoded to shape {arr.shape}, "
                              "not a colour image")
    if arr.dtype != np.uint8:
        arr = np.clip(arr, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _lut_to_uint8(rgb: np.ndarray, ds: Dataset) -> np.ndarray:
    """A palette's RGB (8- or 16-bit entries) -> uint8."""
    descriptor = ds.get("RedPaletteColorLookupTableDescriptor") or [0, 0, 8]
    lut_bits = _int(descriptor[2], 8)
    if lut_bits > 8:
        return ((2 * rgb.astype(np.uint32) + 257) // 514).astype(np.uint8)
    return rgb.astype(np.uint8)
