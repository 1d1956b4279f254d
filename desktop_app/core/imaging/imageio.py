"""Read an image file once into memory, then decode it into an RGB uint8 array, or raise a typed error.

One read per file: :func:`read_file` checks that the path is a regular file
*before* opening it for reading (a named pipe, a device such as ``/dev/zero``,
a socket or a folder named ``*.jpg`` could block a read forever or never end),
reads at most ``max_bytes``, and :class:`ImageBytes` hashes exactly the bytes
:func:`decode_image` decodes, so a file replaced mid-run cannot pair one
content's hash with another content's pixels.

Pillow is used for decoding because it reads the header lazily (so an oversized
image is refused before its pixels are decoded), applies EXIF orientation, and
handles palette, alpha, CMYK and 16-bit inputs. JPEGs can be decoded at a
reduced DCT scale (``draft``) when the caller needs far fewer pixels than the
original holds, which is what makes multi-megapixel originals cheap.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from desktop_app.core.base.errors import (
    EmptyFileError,
    ExtremeAspectError,
    ImageError,
    ImageTooLargeError,
    ImageTooSmallError,
    NotAnImageError,
    NotARegularFileError,
    TruncatedImageError,
    UnreadableFileError,
    UnsupportedFormatError,
)
from desktop_app.core.imaging import dicom_read
from desktop_app.core.imaging.regular_file import (
    MAX_FILE_BYTES,
    ImageBytes,
    NotRegularFileOSError,
    open_regular,
)

# 100 megapixels: four times a 3872x2592 dermatoscope original; anything larger
# is far more likely a decompression bomb than a lesion photograph.
DEFAULT_MAX_PIXELS = 100_000_000
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "TIFF", "BMP", "WEBP", "MPO"})
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".tif", ".tiff", ".bmp", ".webp"}
)
# Rows converted at a time from 16-bit or float pixels: bounds the temporary
# arrays to a few MB whatever the image's size.
_CONVERT_CHUNK_PIXELS = 1 << 22
# Image formats DermScreen does not analyse, by suffix. A file with one of these
# inside an opened folder is listed anyway, so it becomes an error row that says
# why ("unsupported image format GIF") instead of vanishing from the batch; files
# that are not images at all (.txt, .csv, .json, .md, .pdf...) stay unlisted.
UNSUPPORTED_IMAGE_SUFFIXES: dict[str, str] = {
    ".gif": "GIF", ".heic": "HEIC", ".heif": "HEIF",
    ".avif": "AVIF", ".jp2": "JPEG 2000", ".j2k": "JPEG 2000", ".jpx": "JPEG 2000",
    ".jxl": "JPEG XL", ".psd": "PSD", ".dng": "DNG (camera raw)", ".ico": "ICO", ".svg": "SVG",
}

# Our own pixel cap is checked explicitly below, from the header, before decoding. Pillow's
# guard stays on as a second line at the same cap (it warns above it and refuses twice it):
# pydicom hands JPEG and JPEG 2000 pixel data to Pillow when no other decoder is installed,
# and that path must never decode a bomb. (It was switched off only because its default,
# 89 MP, warns below our 100 MP cap.)
Image.MAX_IMAGE_PIXELS = DEFAULT_MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False

def is_image_path(path: str | Path) -> bool:
    """True when the file name carries an image suffix DermScreen analyses."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def _listed_in_folder(path: Path) -> bool:
    """A folder's file that gets a row: an analysed image, or an image DermScreen refuses."""
    suffix = path.suffix.lower()
    return (suffix in IMAGE_SUFFIXES or suffix in UNSUPPORTED_IMAGE_SUFFIXES) \
        and not path.name.startswith(".")


def _mb(n: int) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def read_file(path: str | Path, max_bytes: int = MAX_FILE_BYTES) -> ImageBytes:
    """The file's bytes, read once; never reads a non-regular file; raises a typed ImageError.

    A frame row of a multi-frame DICOM object (``file.dcm#frame2``) reads its file.
    """
    path = Path(path)
    base, frame = dicom_read.split_frame(path)
    if frame is not None and not os.path.lexists(path):
        blob = read_file(base, max_bytes)
        return ImageBytes(path, blob.data, f"#frame{frame}".encode())
    try:
        fd, st = open_regular(path)
        with open(fd, "rb") as fh:
            if st.st_size == 0:
                raise EmptyFileError(path, "file is empty (0 bytes)")
            if st.st_size > max_bytes:
                raise ImageTooLargeError(
                    path, f"file is {_mb(st.st_size)}, over the {_mb(max_bytes)} file size limit"
                )
            # One byte more than the size: notices a file that grew since fstat.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:
                data += fh.read(max_bytes + 1 - len(data))
                if len(data) > max_bytes:
                    raise ImageTooLargeError(
                        path, f"file grew past the {_mb(max_bytes)} file size limit while read"
                    )
    except ImageError:
        raise
    except NotRegularFileOSError as exc:
        raise NotARegularFileError(
            path, f"not a regular file ({exc.kind}); refused without reading it"
        ) from None
    except FileNotFoundError:
        raise UnreadableFileError(path, "file not found") from None
    except PermissionError:
        raise UnreadableFileError(path, "permission denied") from None
    except MemoryError:
        raise ImageTooLargeError(path, "not enough memory to read this file") from None
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UnreadableFileError(path, f"cannot read file ({reason})") from None
    if not data:
        raise EmptyFileError(path, "file is empty (0 bytes)")
    return ImageBytes(path, data)


def _gray_to_uint8(img: Image.Image) -> np.ndarray:
    """16-bit, 32-bit integer or float grayscale -> uint8, in row chunks (no full-size float copy).

    The container's range is stretched to 8 bits: 0..65535 for 16-bit images
    (and for 32-bit ones whose values exceed 255), else 0..255. 16-bit values
    map to round(v / 257) with integer arithmetic, exactly what the float
    formula gave.
    """
    mode = img.mode
    width, height = img.size
    top = 65535
    if not mode.startswith("I;16"):
        _, high = img.getextrema()
        top = 65535 if high > 255 else 255
    out = np.empty((height, width), dtype=np.uint8)
    rows = max(1, _CONVERT_CHUNK_PIXELS // max(1, width))
    for y in range(0, height, rows):
        chunk = np.asarray(img.crop((0, y, width, min(height, y + rows))))
        if mode == "F":
            values = np.nan_to_num(chunk.astype(np.float32), nan=0.0, posinf=top, neginf=0.0)
            part = np.rint(values * np.float32(255.0 / top))
        elif top == 65535:
            # round(v * 255 / 65535) = round(v / 257) = (2v + 257) // 514, no ties (257 is odd).
            part = (2 * chunk.astype(np.int64) + 257) // 514
        else:
            part = chunk
        out[y : y + chunk.shape[0]] = np.clip(part, 0, 255)
    return out


def _to_rgb_array(img: Image.Image) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        gray = _gray_to_uint8(img)
        del img
        return cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        # Composite transparent areas on white, like a viewer shows them.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def decode_image(
    blob: ImageBytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_size: tuple[int, int] | None = None,
    min_side: int = 1,
    max_aspect: float | None = None,
) -> np.ndarray:
    """Decode ``blob`` into an ``(H, W, 3)`` RGB uint8 array, EXIF orientation applied.

    The header is checked before any pixel is decoded: at most ``max_pixels``
    pixels, each side at least ``min_side``, and (when given) the long side at
    most ``max_aspect`` times the short one. ``min_size`` (width, height) lets a
    JPEG be decoded at a reduced DCT scale that still holds at least that many
    pixels in each direction; the result is then the same for every caller
    that passes the same ``min_size``.
    """
    path = blob.path
    if dicom_read.is_dicom_bytes(blob.data):
        try:
            return dicom_read.decode_dicom(blob, max_pixels=max_pixels, min_side=min_side,
                                           max_aspect=max_aspect)
        except NotAnImageError:
            # A JPEG (PNG, TIFF...) whose bytes hold "DICM" at 128 is that image, not DICOM.
            if not dicom_read.image_signature(blob.data):
                raise
    elif path.suffix.lower() in dicom_read.DICOM_SUFFIXES \
            and not dicom_read.image_signature(blob.data):
        raise UnsupportedFormatError(
            path, "DICOM file without the Part 10 header (no 'DICM' at byte 128); export it "
            "from the PACS as a DICOM Part 10 file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                img = Image.open(io.BytesIO(blob.data))
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
            if min(width, height) < min_side:
                raise ImageTooSmallError(
                    path,
                    f"image is only {width}x{height} pixels; at least {min_side}x{min_side} "
                    "are needed to judge a lesion",
                )
            if max_aspect is not None and max(width, height) > max_aspect * min(width, height):
                ratio = max(width, height) / min(width, height)
                raise ExtremeAspectError(
                    path,
                    f"image is {width}x{height} (aspect ratio {ratio:.0f}:1); a lesion photograph "
                    f"is at most {max_aspect:g}:1 (crop it to the lesion)",
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
    except Image.DecompressionBombError as exc:  # Pillow's guard: an image over twice the cap
        raise ImageTooLargeError(path, _bomb_words(exc, max_pixels)) from None
    except (OSError, ValueError, SyntaxError) as exc:
        # Pillow raises these from header parsing and EXIF handling too.
        raise NotAnImageError(path, f"corrupt image ({exc})") from None


def _bomb_words(exc: Exception, max_pixels: int) -> str:
    """Pillow's DecompressionBombError ("Image size (400000000 pixels) exceeds ...") in the
    words of our own size check."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    size = f"{int(found.group(1)) / 1e6:.0f} megapixels" if found else "too large"
    return (f"image is {size}, over the {max_pixels / 1e6:.0f} megapixel limit (refused from "
            "its header, before decoding)")


def read_image(
    path: str | Path,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_size: tuple[int, int] | None = None,
    max_bytes: int = MAX_FILE_BYTES,
) -> np.ndarray:
    """Read and decode ``path`` into an ``(H, W, 3)`` RGB uint8 array (:func:`read_file` + :func:`decode_image`)."""
    return decode_image(read_file(path, max_bytes), max_pixels=max_pixels, min_size=min_size)


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a regular file's bytes, streamed (any size).

    Raises OSError (:class:`NotRegularFileOSError` for a pipe, device or folder,
    which are never read).
    """
    digest = hashlib.sha256()
    fd, _ = open_regular(path)
    with open(fd, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _listing_error(exc: OSError) -> str:
    return f"cannot list folder ({exc.strerror or exc})"


def _scan_folder(top: Path, recursive: bool) -> list[tuple[Path, str]]:
    """(file, "") for each listed file under ``top``; (folder, why) for each folder that
    could not be listed (no permission, a path longer than PATH_MAX...).

    One unlistable subfolder costs only its own row: everything else is still
    found. A subfolder (even one named ``x.jpg``) is never a file's row: it is
    searched with ``recursive`` and skipped without. Symbolic links to folders
    are not followed (a link loop cannot make the walk endless), as ``rglob``.
    """
    found: list[tuple[Path, str]] = []
    stack = [top]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = list(it)
        except OSError as exc:
            found.append((folder, _listing_error(exc)))
            continue
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir()  # follows a link: a link to a folder is a folder
                is_link = entry.is_symlink()
            except OSError:  # cannot tell: let the read give the row its reason
                is_dir = is_link = False
            if is_dir:
                if recursive and not is_link:
                    stack.append(path)
            elif _listed_in_folder(path) or _dicom_in_folder(path):
                found.extend((f, "") for f in _dicom_frames(path))
    found.sort(key=_listing_order)
    return found


def _listing_order(item: tuple[Path, str]) -> tuple[str, int]:
    """By name, case-insensitively; the frames of one DICOM object by number (2 before 10)."""
    base, frame = dicom_read.split_frame(item[0])
    return os.fspath(base).lower(), frame or 0


def scan_inputs(paths: list[str | Path] | tuple[str | Path, ...],
                recursive: bool = False) -> list[tuple[Path, str]]:
    """Files and folders -> (file to analyse, "") and (folder, why it cannot be listed).

    Explicitly named files are kept whatever their suffix (so a bad file the
    user dropped in gets an error row); files inside folders are kept when
    their suffix is an image's, supported or not (:data:`UNSUPPORTED_IMAGE_SUFFIXES`:
    those become error rows that say why); hidden files and non-images are
    skipped; every folder that cannot be listed gets its own entry with the reason.
    A folder's file is also kept when its content is DICOM (whatever the name); a
    multi-frame DICOM object gives one entry per frame (``file.dcm#frame2``).
    """
    out: list[tuple[Path, str]] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            out.extend(_scan_folder(p, recursive))
        else:
            out.extend((f, "") for f in _dicom_frames(p))
    return out


def list_images(paths: list[str | Path] | tuple[str | Path, ...], recursive: bool = False) -> list[Path]:
    """The files :func:`scan_inputs` finds, without the folders that could not be listed."""
    return [path for path, error in scan_inputs(paths, recursive) if not error]


def _dicom_in_folder(path: Path) -> bool:
    """A folder's ``.dcm`` file, or one with no image suffix whose content is DICOM (reads 132 bytes)."""
    if path.name.startswith(".") or is_image_path(path) \
            or path.suffix.lower() in UNSUPPORTED_IMAGE_SUFFIXES:
        return False
    return path.suffix.lower() in dicom_read.DICOM_SUFFIXES or dicom_read.sniff_dicom(path)


def _dicom_frames(path: Path) -> list[Path]:
    """``path``, or one row name per frame when it is a multi-frame DICOM object."""
    if is_image_path(path) or not dicom_read.sniff_dicom(path):
        return [path]
    frames = dicom_read.frames_in(path)
    return [path] if frames == 1 else [dicom_read.frame_path(path, i) for i in
                                       range(1, frames + 1)]
