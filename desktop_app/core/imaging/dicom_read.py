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

Compressed pixel data is checked before it is decoded too: the size the first
frame's codestream declares (JPEG SOFn, JPEG-LS SOF55, JPEG 2000 SIZ) must be
the header's Rows x Columns and within ``max_pixels``, so a 7 KB stream that
declares 30000x30000 under a 64x64 header is refused without a byte of it
decoded. Errors name the true reason: a JPEG codestream in an object labelled
uncompressed, a DICOMDIR, a transfer syntax no one defined, a file that ends
inside an element.

Multi-frame: each frame is a row, named ``file.dcm#frame2`` (1-based,
:func:`frame_path`); :func:`desktop_app.core.imaging.imageio.read_file` reads the file
behind such a name. pydicom is imported only when a DICOM file is met.

Over 500 lines on purpose: it is the one reader of an untrusted format, and every check between
the bytes and the pixels (header limits, frames bounded by the data present, the size a
codestream declares, a true reason for each refusal) is reviewed together here; byte-level
codestream parsing lives in codestream.py.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import struct
import threading
import warnings
from collections.abc import Iterator
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
from desktop_app.core.imaging.codestream import (
    codec_of,
    codestream_size,
    first_fragment,
    first_fragment_start,
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


# A Part 10 file's meta information (group 0002) follows ``DICM`` at once.
_META_GROUP = b"\x02\x00"
# Image formats whose bytes may carry ``DICM`` at byte 128 by chance or design.
IMAGE_SIGNATURES = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"II*\x00", b"MM\x00*", b"BM",
                    b"RIFF")
MEDIA_DIRECTORY = "1.2.840.10008.1.3.10"  # DICOMDIR


def is_dicom_bytes(data: bytes) -> bool:
    """True when ``data`` holds a DICOM Part 10 preamble, ``DICM`` and then the file meta group."""
    return (len(data) >= PREAMBLE_BYTES + 6 and data[PREAMBLE_BYTES:PREAMBLE_BYTES + 4] == MAGIC
            and data[PREAMBLE_BYTES + 4:PREAMBLE_BYTES + 6] == _META_GROUP)


def image_signature(data: bytes) -> bool:
    """Whether ``data`` starts like a JPEG, PNG, TIFF, BMP or WebP file."""
    return data.startswith(IMAGE_SIGNATURES)


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
            return is_dicom_bytes(fh.read(PREAMBLE_BYTES + 6))
        except OSError:
            return False


class _ThreadLog(logging.Handler):
    """pydicom's log messages, kept per thread while :meth:`collect` runs in that thread.

    pydicom reports a file that ends inside an element only as a warning (and a log record)
    and returns what it read. ``warnings.catch_warnings`` swaps process-wide state, so with
    files read on worker threads one thread could take another's warning as its own; log
    records are emitted in the thread that read the file, so a thread-local list is exact.
    """

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        seen = getattr(self._local, "seen", None)
        if seen is not None:
            seen.append(record.getMessage())

    @contextlib.contextmanager
    def collect(self) -> Iterator[list[str]]:
        self._local.seen = seen = []
        try:
            yield seen
        finally:
            self._local.seen = None


_PYDICOM_LOG = _ThreadLog()
_quiet_done = False


def quiet_pydicom() -> None:
    """pydicom judges values lazily, on first access, and warns about each odd one (with its
    site-packages path); DermScreen judges what it uses itself, so those warnings are off
    (its log records still reach :data:`_PYDICOM_LOG`)."""
    global _quiet_done
    if _quiet_done:
        return
    import pydicom

    pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
    warnings.filterwarnings("ignore", category=UserWarning, module=r"pydicom(\.|$)")
    logging.getLogger("pydicom").addHandler(_PYDICOM_LOG)
    _quiet_done = True


def read_dataset(source: Any, path: Path, *, header_only: bool) -> Dataset:
    """Parse a Part 10 file; a file that ends inside an element raises TruncatedImageError
    (pydicom only warns about that, and returns what it read)."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    quiet_pydicom()
    try:
        with _PYDICOM_LOG.collect() as seen:
            ds = pydicom.dcmread(source, stop_before_pixels=header_only)
        for text in seen:
            if _ENDS_EARLY.search(text):
                raise TruncatedImageError(path, f"DICOM file is truncated: {_plain(text)}")
        return ds
    except InvalidDicomError as exc:
        raise NotAnImageError(path, f"not a readable DICOM file ({exc})") from None
    except (EOFError, struct.error) as exc:
        raise TruncatedImageError(path, f"DICOM file is truncated ({exc or 'ends early'})") from None
    except MemoryError:
        raise ImageTooLargeError(path, "not enough memory to read this DICOM file") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            NotImplementedError, OverflowError) as exc:
        raise NotAnImageError(path, f"corrupt DICOM file ({type(exc).__name__}: {exc})") from None


_ENDS_EARLY = re.compile(r"end of (the )?file|ends? (early|before)|truncat|"
                         r"bytes? (were|was) (read|available)|unexpected end", re.I)


def _plain(text: str) -> str:
    """pydicom's end-of-file warning in words."""
    if "delimiter" in text:
        return "it ends inside its pixel data (before the end-of-data delimiter)"
    return " ".join(text.replace(" in file <no filename>", "").split())[:200]


def frames_in(path: Path) -> int:
    """How many frame rows the DICOM file at ``path`` gets (1 if single-frame or unreadable).

    Used when a folder is listed, so a multi-frame object gives one row per
    frame; an unreadable header gives one row, which then says why. Frames are
    bounded by the pixel data actually present: an object declaring 100,000
    frames while holding one gets the frames it holds and one more row, which
    says how many of the declared frames are missing.
    """
    from desktop_app.core.imaging.regular_file import MAX_FILE_BYTES, open_regular

    try:
        fd, st = open_regular(path)
    except OSError:
        return 1
    with open(fd, "rb") as fh:
        try:
            frames = _int(read_dataset(fh, path, header_only=True).get("NumberOfFrames", 1), 1)
        except Exception:  # the row made for this file reports the reason
            return 1
        if frames <= 1 or st.st_size > MAX_FILE_BYTES:
            return 1
        try:  # a multi-frame object: how many frames its pixel data really holds
            fh.seek(0)
            present = frames_present(read_dataset(io.BytesIO(fh.read(MAX_FILE_BYTES)), path,
                                                  header_only=False))
        except Exception:
            return 1
    return frames if present >= frames else present + 1


def frames_present(ds: Dataset) -> int:
    """How many frames the pixel data actually holds (native: whole frames by length;
    encapsulated: at most one per fragment), 0 when there is none."""
    if "PixelData" not in ds:
        return 0
    data = ds.PixelData or b""
    declared = max(1, _int(ds.get("NumberOfFrames", 1), 1))
    if _compressed(ds):
        from pydicom.encaps import parse_basic_offsets, parse_fragments

        try:
            buffer = io.BytesIO(data)
            offsets = parse_basic_offsets(buffer)
            fragments, _ = parse_fragments(buffer)
        except (ValueError, EOFError, struct.error):
            return 0
        return min(declared, len(offsets) if offsets else fragments)
    per_frame = _frame_bytes(ds)
    return min(declared, len(data) // per_frame) if per_frame > 0 else 0


def _frame_bytes(ds: Dataset) -> int:
    rows, cols = _int(ds.get("Rows", 0), 0), _int(ds.get("Columns", 0), 0)
    spp, bits = _int(ds.get("SamplesPerPixel", 0), 0), _int(ds.get("BitsAllocated", 0), 0)
    size = rows * cols * spp * max(1, bits // 8)
    if str(ds.get("PhotometricInterpretation", "")).strip().upper() == "YBR_FULL_422":
        size = size * 2 // 3
    return size


def _compressed(ds: Dataset) -> bool:
    """Whether the pixel data is encapsulated; ValueError for a UID that is no transfer syntax."""
    uid = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if uid is None:
        return False
    if not uid.is_transfer_syntax:
        raise ValueError(uid)
    return bool(uid.is_compressed)


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
        if _directory(ds):
            return None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # values are read (and judged) lazily here
            return case_of(ds, frame or 1)
    except Exception:  # the decode step already reports why
        return None


def header(blob: ImageBytes) -> Dataset:
    """The whole dataset of a DICOM ``blob`` (pixel data still encoded); raises ImageError."""
    base, _ = split_frame(blob.path)
    ds = read_dataset(io.BytesIO(blob.data), base, header_only=False)
    if "PixelData" not in ds and not _directory(ds):
        why = cut_short(blob.data, ds)
        if why:
            raise TruncatedImageError(base, why)
    return ds


def cut_short(data: bytes, ds: Dataset) -> str:
    """Why a DICOM file without pixel data looks cut short ('' when it does not).

    pydicom stops quietly where the bytes end, so the top-level elements are
    walked again: one that declares more bytes than the file holds (a 2 GB
    length), bytes left over that are not a whole element, or an image SOP
    class whose last element is followed by nothing.
    """
    from pydicom.filereader import data_element_generator

    try:
        uid = ds.file_meta.TransferSyntaxUID
        meta_len = int(ds.file_meta.get("FileMetaInformationGroupLength", 0))
        if not meta_len or not uid.is_transfer_syntax or uid.is_deflated:
            return ""
        fp = io.BytesIO(data)
        fp.seek(PREAMBLE_BYTES + 4 + 12 + meta_len)
        last = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for elem in data_element_generator(fp, uid.is_implicit_VR, uid.is_little_endian,
                                               defer_size=256):
                if elem.length != 0xFFFFFFFF and elem.value_tell + elem.length > len(data):
                    return (f"DICOM file is truncated or corrupt: element {elem.tag} declares "
                            f"{elem.length:,} bytes but only {len(data) - elem.value_tell:,} "
                            "follow in the file; no pixel data was reached")
                last = elem.tag
            left = len(data) - fp.tell()
    except Exception:  # the walk itself failed: no better reason than the caller's
        return ""
    where = f"after element {last}" if last is not None else "after its file meta information"
    if 0 < left < 8:
        return (f"DICOM file is truncated: it ends inside an element header {where} "
                f"(byte {len(data):,}), before any pixel data")
    if "Image" in _name(ds) and "Rows" not in ds:
        return (f"DICOM {_name(ds)} has no pixel data and no image size: the file ends at byte "
                f"{len(data):,} {where}; it is probably truncated")
    return ""


def _name(ds: Dataset) -> str:
    """The SOP class in words: ours, else pydicom's name for it, else the UID."""
    uid = _text(ds, "SOPClassUID")
    if not uid and hasattr(ds, "file_meta"):
        uid = str(ds.file_meta.get("MediaStorageSOPClassUID", "") or "").strip()
    if uid in SOP_CLASS_NAMES:
        return SOP_CLASS_NAMES[uid]
    from pydicom.uid import UID

    known = UID(uid).name if uid else ""
    if known and known != uid:
        return f"{known.removesuffix(' Storage')} ({uid})"
    return f"SOP class {uid or '(none given)'}"


def _directory(ds: Dataset) -> bool:
    """A DICOMDIR: the index of a DICOM disc or export, not an image."""
    media = str(ds.file_meta.get("MediaStorageSOPClassUID", "")) if hasattr(ds, "file_meta") else ""
    return media == MEDIA_DIRECTORY or "DirectoryRecordSequence" in ds


def _transfer_syntax_words(ds: Dataset) -> str:
    uid = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    return f"{uid.name} ({uid})" if uid is not None and uid.name != str(uid) else str(uid)


def _mislabelled(ds: Dataset, path: Path) -> None:
    """Native pixel data that is really a JPEG / JPEG-LS / JPEG 2000 codestream: say so."""
    codec = codec_of(first_fragment_start(ds.PixelData or b""))
    if codec:
        raise NotAnImageError(
            path, f"DICOM pixel data holds a {codec} codestream, but the transfer syntax says "
            f"{_transfer_syntax_words(ds)} (uncompressed): the object was relabelled by the "
            "tool that wrote it; export it again from the device or PACS")


def _check_codestream(ds: Dataset, path: Path, rows: int, cols: int, max_pixels: int,
                      index: int = 0) -> None:
    """The codestream of the frame to decode (0-based ``index``) must declare the header's
    size, within ``max_pixels``: checked before a decoder (pylibjpeg, OpenJPEG, Pillow)
    allocates anything."""
    data = ds.PixelData or b""
    if index == 0:
        start = first_fragment(data)
    else:
        from pydicom.encaps import get_frame

        try:
            start = get_frame(data, index, number_of_frames=frames_present(ds))[:65536]
        except (ValueError, IndexError, EOFError, struct.error):
            return  # the decoder cannot find that frame either, and says so
    found = codestream_size(start)
    if found is None:
        return
    codec, width, height = found
    if width * height > max_pixels:
        raise ImageTooLargeError(
            path, f"DICOM {codec} pixel data declares {width}x{height} = "
            f"{width * height / 1e6:.0f} megapixels, over the {max_pixels / 1e6:.0f} megapixel "
            "limit (refused before decoding)")
    if height != 0 and (width, height) != (cols, rows):
        raise NotAnImageError(
            path, f"DICOM {codec} pixel data declares {width}x{height} pixels but the header "
            f"says {cols}x{rows}: the object is inconsistent (refused before decoding)")


def check_geometry(
    ds: Dataset, path: Path, frame: int | None, *, max_pixels: int, min_side: int = 1,
    max_aspect: float | None = None,
) -> tuple[int, int, int]:
    """Check the pixel module of ``ds`` before decoding; returns (rows, columns, frames)."""
    if _directory(ds):
        raise UnsupportedFormatError(
            path, "a DICOMDIR (the index of a DICOM disc or export), not an image: open the "
            "folder that holds the images it lists")
    uid = ds.file_meta.get("TransferSyntaxUID") if hasattr(ds, "file_meta") else None
    if uid is not None and not uid.is_transfer_syntax:
        raise UnsupportedFormatError(
            path, f"unknown DICOM transfer syntax {str(uid)[:64]!r}: no standard names it, so "
            "its pixel data cannot be read; export it again as a standard transfer syntax")
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
    if frames > 1 and (frame or 1) > (present := frames_present(ds)):
        raise TruncatedImageError(
            path, f"DICOM object declares {frames:,} frames but its pixel data holds "
            f"{present:,}; frames {present + 1:,} to {frames:,} are missing (not analysed)")
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
    if not _compressed(ds):
        # The frame asked for must be whole (a multi-frame object cut short keeps its first ones).
        expected = _frame_bytes(ds) * (frame or 1)
        got = len(ds.PixelData or b"")
        if got < expected:
            _mislabelled(ds, path)
            raise TruncatedImageError(path, f"DICOM pixel data is truncated: {got} bytes of the "
                                      f"{expected} the header describes")
    else:
        _check_codestream(ds, path, rows, cols, max_pixels, (frame or 1) - 1)
    return rows, cols, frames


def decode_dicom(
    blob: ImageBytes, *, max_pixels: int, min_side: int = 1, max_aspect: float | None = None,
) -> np.ndarray:
    """One frame of a DICOM ``blob`` as ``(H, W, 3)`` RGB uint8; raises a typed ImageError."""
    from PIL import Image
    from pydicom.pixels import apply_color_lut

    base, frame = split_frame(blob.path)
    ds = header(blob)
    _, _, frames = check_geometry(ds, base, frame, max_pixels=max_pixels, min_side=min_side,
                                  max_aspect=max_aspect)
    index = (frame or 1) - 1
    photometric = str(ds.PhotometricInterpretation).strip().upper()
    if frames > 1 and (present := frames_present(ds)) < frames:
        # The frames it holds are decoded as if it declared only those (check_geometry has
        # refused the rows of the missing ones).
        ds.NumberOfFrames = present
        if not _compressed(ds):
            ds.PixelData = ds.PixelData[: present * _frame_bytes(ds)]
        frames = present
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ds.pixel_array_options(index=index if frames > 1 else None, as_rgb=True)
            arr = ds.pixel_array
            if photometric == "PALETTE COLOR":
                arr = _lut_to_uint8(apply_color_lut(arr, ds), ds)
    except MemoryError:
        raise ImageTooLargeError(base, "not enough memory to decode this DICOM image") from None
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(base, f"DICOM pixel data is too large to decode ({exc})") \
            from None
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
