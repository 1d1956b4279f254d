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
