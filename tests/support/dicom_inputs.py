"""DICOM inputs for the tests, built in tmp_path from the real shared images.

A dermoscopy object (SOP class 1.2.840.10008.5.1.4.1.1.77.1.7, modality DMS) with
the original JPEG's bytes as JPEG baseline pixel data, and uncompressed; a VL
Photographic one; a multi-frame one; palette colour and YBR_FULL variants; and
hostile objects (no pixel data, huge Rows/Columns, a wrong photometric
interpretation, truncated).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence
from pydicom.uid import (
    ExplicitVRLittleEndian,
    JPEGBaseline8Bit,
    generate_uid,
)

DERMOSCOPY = "1.2.840.10008.5.1.4.1.1.77.1.7"
VL_PHOTO = "1.2.840.10008.5.1.4.1.1.77.1.4"
MF_TRUE_COLOR_SC = "1.2.840.10008.5.1.4.1.1.7.4"
PATIENT = {"PatientID": "MRN-0042", "PatientName": "Doe^Jane", "PatientBirthDate": "19700101",
           "PatientSex": "F"}
STUDY_UID = "2.25.315905328745094581307196227311047390381"


def _base(sop_class: str, modality: str, transfer_syntax: str, *, patient: bool = True,
          study_uid: str = STUDY_UID) -> Dataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = transfer_syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.preamble = b"\0" * 128
    ds.SpecificCharacterSet = "ISO_IR 192"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = modality
    ds.StudyDate, ds.StudyTime = "20260301", "101500"
    ds.StudyID, ds.AccessionNumber, ds.ReferringPhysicianName = "S1", "ACC77", ""
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.Manufacturer = "TestScope"
    if patient:
        for key, value in PATIENT.items():
            setattr(ds, key, value)
    site = Dataset()
    site.CodeValue, site.CodingSchemeDesignator, site.CodeMeaning = "818981001", "SCT", "Abdomen"
    ds.AnatomicRegionSequence = Sequence([site])
    ds.LesionNumber = 3
    ds.ImageType = ["ORIGINAL", "PRIMARY"]
    ds.ContentDate, ds.ContentTime = "20260301", "101600"
    return ds


def _rgb_pixels(ds: Dataset, rgb: np.ndarray, planar: int = 0) -> None:
    ds.Rows, ds.Columns = rgb.shape[:2]
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "RGB"
    ds.PlanarConfiguration = planar
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    data = rgb.transpose(2, 0, 1) if planar else rgb
    ds.PixelData = np.ascontiguousarray(data).tobytes()


def rgb_of(jpeg: Path) -> np.ndarray:
    with Image.open(jpeg) as img:
        return np.asarray(img.convert("RGB"))


def dermoscopy_jpeg(jpeg: Path, out: Path) -> Path:
    """The original JPEG's bytes, untouched, as JPEG baseline pixel data of a DMS object."""
    ds = _base(DERMOSCOPY, "DMS", JPEGBaseline8Bit)
    with Image.open(jpeg) as img:
        width, height = img.size
    ds.Rows, ds.Columns = height, width
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.PixelData = encapsulate([jpeg.read_bytes()])
    ds["PixelData"].VR = "OB"
    ds.save_as(out, enforce_file_format=True)
    return out


def dermoscopy_native(jpeg: Path, out: Path, *, planar: int = 0, name: bool = True) -> Path:
    """A DMS object with the image's RGB pixels uncompressed."""
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian, patient=name)
    _rgb_pixels(ds, rgb_of(jpeg), planar)
    ds.save_as(out, enforce_file_format=True)
    return out


def vl_photographic(jpeg: Path, out: Path) -> Path:
    """An older device's VL Photographic object (modality XC), planar configuration 1."""
    ds = _base(VL_PHOTO, "XC", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg), planar=1)
    ds.save_as(out, enforce_file_format=True)
    return out


def palette_colour(jpeg: Path, out: Path) -> Path:
    """The image quantised to a 256-entry palette with 16-bit lookup tables."""
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    with Image.open(jpeg) as img:
        quant = img.convert("RGB").quantize(256)
    index = np.asarray(quant, dtype=np.uint8)
    lut = np.array(quant.getpalette()[: 256 * 3], dtype=np.uint16).reshape(-1, 3)
    lut = np.vstack([lut, np.zeros((256 - len(lut), 3), np.uint16)]) * 257
    ds.Rows, ds.Columns = index.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    for i, colour in enumerate(("Red", "Green", "Blue")):
        setattr(ds, f"{colour}PaletteColorLookupTableDescriptor", [256, 0, 16])
        setattr(ds, f"{colour}PaletteColorLookupTableData", lut[:, i].astype("<u2").tobytes())
    ds.PixelData = index.tobytes()
    ds.save_as(out, enforce_file_format=True)
    return out


def ybr_full(jpeg: Path, out: Path) -> Path:
    """Native YBR_FULL pixels (what some cameras store)."""
    from pydicom.pixels import convert_color_space

    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, convert_color_space(rgb_of(jpeg), "RGB", "YBR_FULL"))
    ds.PhotometricInterpretation = "YBR_FULL"
    ds.save_as(out, enforce_file_format=True)
    return out


def compressed(jpeg: Path, out: Path, transfer_syntax: str) -> Path:
    """The uncompressed DMS object re-encoded losslessly (RLE, JPEG-LS, JPEG 2000) by pydicom."""
    import pydicom

    ds = pydicom.dcmread(dermoscopy_native(jpeg, out))
    ds.compress(transfer_syntax)
    ds.save_as(out, enforce_file_format=True)
    return out


def multiframe(jpegs: list[Path], out: Path) -> Path:
    """A multi-frame true colour secondary capture: one real image per frame (same size)."""
    ds = _base(MF_TRUE_COLOR_SC, "XC", ExplicitVRLittleEndian)
    frames = np.stack([rgb_of(p) for p in jpegs])
    _rgb_pixels(ds, frames[0])
    ds.NumberOfFrames = len(jpegs)
    ds.PixelData = np.ascontiguousarray(frames).tobytes()
    ds.save_as(out, enforce_file_format=True)
    return out


def no_pixel_data(jpeg: Path, out: Path) -> Path:
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg))
    del ds.PixelData
    ds.save_as(out, enforce_file_format=True)
    return out


def huge_rows_columns(jpeg: Path, out: Path) -> Path:
    """Rows and Columns of 65535 over a small image's pixel data: refused from the header."""
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg))
    ds.Rows = ds.Columns = 65535
    ds.save_as(out, enforce_file_format=True)
    return out


def wrong_photometric(jpeg: Path, out: Path, label: str = "MONOCHROME2") -> Path:
    """RGB pixels (3 samples) labelled with another photometric interpretation."""
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg))
    ds.PhotometricInterpretation = label
    ds.save_as(out, enforce_file_format=True)
    return out


def truncated(jpeg: Path, out: Path) -> Path:
    """A dermoscopy object cut off in the middle of its pixel data."""
    whole = io.BytesIO()
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg))
    ds.save_as(whole, enforce_file_format=True)
    data = whole.getvalue()
    out.write_bytes(data[: len(data) // 2])
    return out


# ----- hostile objects of issue 33 / issue 31 item 6 -------------------------------------------


def _set_transfer_syntax(data: bytes, uid: str) -> bytes:
    """The Part 10 bytes with (0002,0010) rewritten in place (the data set's bytes untouched),
    as a tool that relabels a file does."""
    import struct

    at = data.find(b"\x02\x00\x10\x00UI")
    old_len = struct.unpack_from("<H", data, at + 6)[0]
    value = uid.encode() + (b"\0" if len(uid) % 2 else b"")
    out = data[:at + 6] + struct.pack("<H", len(value)) + value + data[at + 8 + old_len:]
    group = out.find(b"\x02\x00\x00\x00UL")
    length = struct.unpack_from("<I", out, group + 8)[0] + len(value) - old_len
    return out[:group + 8] + struct.pack("<I", length) + out[group + 12:]


def relabelled(jpeg: Path, out: Path, transfer_syntax: str = ExplicitVRLittleEndian) -> Path:
    """A JPEG baseline object whose transfer syntax was relabelled as uncompressed."""
    data = dermoscopy_jpeg(jpeg, out).read_bytes()
    out.write_bytes(_set_transfer_syntax(data, transfer_syntax))
    return out


def unknown_transfer_syntax(jpeg: Path, out: Path) -> Path:
    data = dermoscopy_jpeg(jpeg, out).read_bytes()
    out.write_bytes(_set_transfer_syntax(data, "1.2.826.0.1.3680043.2.1143.99"))
    return out


def truncated_jpeg(jpeg: Path, out: Path, keep: float = 0.5) -> Path:
    """A JPEG baseline object cut off (inside its pixel data, or inside its header)."""
    data = dermoscopy_jpeg(jpeg, out).read_bytes()
    out.write_bytes(data[: int(len(data) * keep)] if keep >= 0.1 else data[:600])
    return out


def dicomdir(jpeg: Path, folder: Path) -> Path:
    """A real DICOMDIR (pydicom's FileSet) indexing one dermoscopy object; returns its path."""
    from pydicom.fileset import FileSet

    fs = FileSet()
    fs.add(dermoscopy_jpeg(jpeg, folder.parent / "for-dicomdir.dcm"))
    fs.write(folder)
    return folder / "DICOMDIR"


def jpeg_with_dicm(jpeg: Path, out: Path, *, meta_group: bool = False) -> Path:
    """A valid JPEG whose APP15 segment puts ``DICM`` at byte 128 (and, with ``meta_group``,
    the two bytes a Part 10 file meta group starts with right after it)."""
    import struct

    data = jpeg.read_bytes()
    payload = bytearray(200)
    payload[122:126] = b"DICM"  # 2 (SOI) + 4 (APP15 marker and length) + 122 = byte 128
    if meta_group:
        payload[126:128] = b"\x02\x00"
    out.write_bytes(data[:2] + b"\xff\xef" + struct.pack(">H", 2 + len(payload)) + bytes(payload)
                    + data[2:])
    return out


def huge_element(jpeg: Path, out: Path) -> Path:
    """Manufacturer (0008,0070) turned into a UN element declaring 2 GB, before the pixel data."""
    import struct

    data = dermoscopy_native(jpeg, out).read_bytes()
    at = data.find(b"\x08\x00\x70\x00LO")
    out.write_bytes(data[:at] + b"\x08\x00\x70\x00UN\0\0" + struct.pack("<I", 0x7FFFFFF0)
                    + data[at + 8:])
    return out


def declared_frames(jpeg: Path, out: Path, frames: int = 100_000) -> Path:
    """A native object declaring ``frames`` frames while holding one."""
    import pydicom

    ds = pydicom.dcmread(dermoscopy_native(jpeg, out))
    ds.NumberOfFrames = frames
    ds.save_as(out, enforce_file_format=True)
    return out


def codestream_bomb(out: Path, codec: str, width: int, height: int, *, rows: int = 64) -> Path:
    """A ``rows`` x ``rows`` object whose real JPEG 2000 or JPEG-LS codestream (encoded by
    pydicom's encoders from 64x64 real-sized pixels) declares ``width`` x ``height`` in its
    SIZ / SOF55 marker: a few KB that a decoder would expand to width x height x 3 bytes."""
    import struct

    import pydicom
    from pydicom.uid import JPEG2000Lossless, JPEGLSLossless

    syntax = JPEG2000Lossless if codec == "JPEG 2000" else JPEGLSLossless
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    rng = np.random.default_rng(0)
    _rgb_pixels(ds, rng.integers(0, 255, (rows, rows, 3), dtype=np.uint8))
    ds.compress(syntax)
    frame = bytearray(next(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=1)))
    if codec == "JPEG 2000":
        at = frame.find(b"\xff\x51")
        struct.pack_into(">II", frame, at + 6, width, height)  # Xsiz, Ysiz (offsets are 0)
    else:
        at = frame.find(b"\xff\xf7")
        struct.pack_into(">HH", frame, at + 5, height, width)  # Y, X
    ds.PixelData = encapsulate([bytes(frame)])
    ds.save_as(out, enforce_file_format=True)
    return out


def odd_values(jpeg: Path, out: Path) -> Path:
    """Values pydicom warns about when read: an overlong LO, a UI with letters, a bad DA."""
    ds = _base(DERMOSCOPY, "DMS", ExplicitVRLittleEndian)
    _rgb_pixels(ds, rgb_of(jpeg))
    ds.Manufacturer = "M" * 200
    ds.StudyDate = "not-a-date"
    ds.save_as(out, enforce_file_format=True)
    raw = out.read_bytes()
    at = raw.find(ds.SeriesInstanceUID.encode())
    out.write_bytes(raw[:at] + b"2.25.NOT-A-UID" + raw[at + 14:])
    return out
