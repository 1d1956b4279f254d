"""Decode any supported image file into an RGB uint8 array, or raise a typed error.

Pillow is used for decoding because it reads the header lazily (so an oversized
image is refused before its pixels are decoded), applies EXIF orientation, and
handles palette, alpha, CMYK and 16-bit inputs. JPEGs can be decoded at a
reduced DCT scale (``draft``) when the caller needs far fewer pixels than the
original holds, which is what makes multi-megapixel originals cheap.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from desktop_app.core.errors import (
    EmptyFileError,
    ImageError,
    ImageTooLargeError,
    NotAnImageError,
    TruncatedImageError,
    UnreadableFileError,
    UnsupportedFormatError,
)

# 100 megapixels: four times a 3872x2592 dermatoscope original; anything larger
# is far more likely a decompression bomb than a lesion photograph.
DEFAULT_MAX_PIXELS = 100_000_000
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "BMP", "WEBP", "MPO"})
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)
# Image formats DermScreen does not analyse, by suffix. A file with one of these
# inside an opened folder is listed anyway, so it becomes an error row that says
# why ("unsupported image format GIF") instead of vanishing from the batch; files
# that are not images at all (.txt, .csv, .json, .md, .pdf...) stay unlisted.
UNSUPPORTED_IMAGE_SUFFIXES: dict[str, str] = {
    ".gif": "GIF", ".dcm": "DICOM", ".dicom": "DICOM", ".heic": "HEIC", ".heif": "HEIF",
    ".avif": "AVIF", ".jp2": "JPEG 2000", ".j2k": "JPEG 2000", ".jpx": "JPEG 2000",
    ".jxl": "JPEG XL", ".psd": "PSD", ".dng": "DNG (camera raw)", ".ico": "ICO", ".svg": "SVG",
}

# Our own pixel cap is enforced explicitly below; Pillow's global one would only
# turn the same situation into a warning or a differently typed exception.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False


def is_image_path(path: str | Path) -> bool:
    """True when the file name carries an image suffix DermScreen analyses."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _listed_in_folder(path: Path) -> bool:
    """A folder's file that gets a row: an analysed image, or an image DermScreen refuses."""
    suffix = path.suffix.lower()
    return (suffix in IMAGE_SUFFIXES or suffix in UNSUPPORTED_IMAGE_SUFFIXES) \
        and not path.name.startswith(".")


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        # 16-bit and float grayscale: stretch the container's range to 8 bits.
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if mode.startswith("I;16") or arr.max(initial=0) > 255 else 255.0
        arr8 = np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(np.repeat(arr8[:, :, None], 3, axis=2))
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite transparent areas on white, like a viewer shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def read_image(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode ``path`` into an ``(H, W, 3)`` RGB uint8 array, EXIF orientation applied.

    ``min_size`` (width, height) lets a JPEG be decoded at a reduced DCT scale
    that still holds at least that many pixels in each direction; the result
    is then the same for every caller that passes the same ``min_size``.
    """
    path = Path(path)
    try:
        if not path.exists():
            raise UnreadableFileError(path, "file not found")
        if not path.is_file():
            raise UnreadableFileError(path, "not a regular file")
        if path.stat().st_size == 0:
            raise EmptyFileError(path, "file is empty (0 bytes)")
        with open(path, "rb") as fh, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                img = Image.open(fh)
            except UnidentifiedImageError:
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    raise NotAnImageError(
                        path, "not an image: the content is not a readable image format"
                    ) from None
                named = UNSUPPORTED_IMAGE_SUFFIXES.get(path.suffix.lower())
                raise UnsupportedFormatError(
                    path, f"unsupported image format {named}; use one of "
                    + ", ".join(sorted(SUPPORTED_FORMATS - {"MPO"})) if named
                    else f"unsupported file type {path.suffix or '(no suffix)'!r}"
                ) from None
            fmt = img.format or "unknown"
            if fmt not in SUPPORTED_FORMATS:
                raise UnsupportedFormatError(
                    path,
                    f"unsupported image format {fmt}; use one of "
                    + ", ".join(sorted(SUPPORTED_FORMATS - {"MPO"})),
                )
            width, height = img.size
            if width <= 0 or height <= 0:
                raise NotAnImageError(path, f"invalid image size {width}x{height}")
            if width * height > max_pixels:
                raise ImageTooLargeError(
                    path,
                    f"image is {width}x{height} = {width * height / 1e6:.0f} megapixels, "
                    f"over the {max_pixels / 1e6:.0f} megapixel limit",
                )
            if min_size is not None and fmt in ("JPEG", "MPO"):
                orientation = img.getexif().get(0x0112, 1)
                want = min_size if orientation < 5 else (min_size[1], min_size[0])
                img.draft("RGB", want)
            try:
                img.load()
            except OSError as exc:
                raise TruncatedImageError(path, f"image data is truncated or corrupt ({exc})") from None
            except (ValueError, SyntaxError) as exc:
                raise NotAnImageError(path, f"corrupt image ({exc})") from None
            img = ImageOps.exif_transpose(img)
            return _to_rgb_array(img)
    except ImageError:
        raise
    except MemoryError:
        raise ImageTooLargeError(path, "not enough memory to decode this image") from None
    except PermissionError:
        raise UnreadableFileError(path, "permission denied") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UnreadableFileError(path, f"cannot read file ({reason})") from None


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file's bytes."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def list_images(paths: list[str | Path] | tuple[str | Path, ...], recursive: bool = False) -> list[Path]:
    """Expand files and folders into a sorted list of candidate image files.

    Explicitly named files are kept whatever their suffix (so a bad file the
    user dropped in gets an error row); files inside folders are kept when
    their suffix is an image's, supported or not (:data:`UNSUPPORTED_IMAGE_SUFFIXES`:
    those become error rows that say why); hidden files and non-images are skipped.
    """
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            walker = p.rglob("*") if recursive else p.iterdir()
            found = sorted(
                (c for c in walker if _listed_in_folder(c)),
                key=lambda c: os.fspath(c).lower(),
            )
            out.extend(found)
        else:
            out.append(p)
    return out
