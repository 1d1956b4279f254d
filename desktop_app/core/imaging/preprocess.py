"""The one preprocessing implementation, shared by training and the app.

decode (RGB) -> digital hair removal (black-hat, threshold, Telea inpainting)
-> optional colour constancy (Shades of Gray) -> resize to ``size`` x ``size``
-> float32 in [0, 1].

Training and the app call :func:`preprocess_file` with the configuration stored
in the model, so the same file gives bit-identical tensors on both sides.

Cost is bounded by construction: the decoder refuses images over the pixel
limit, under :data:`MIN_IMAGE_SIDE` or beyond :data:`MAX_ASPECT_RATIO` from
the header alone, and hair removal never runs on more than
:func:`max_work_side` pixels along the long side (kernel and inpainting radius
grow with that side), so no input makes one image cost more than a fixed
amount. Blank (constant) images are refused: there is no lesion to judge.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from desktop_app.core.base.errors import BlankImageError
from desktop_app.core.imaging.imageio import DEFAULT_MAX_PIXELS, decode_image, read_file
from desktop_app.core.imaging.regular_file import ImageBytes

PREPROCESS_VERSION = 1
SUPPORTED_PREPROCESS_VERSIONS = frozenset({PREPROCESS_VERSION})
# Lesion photographs are 1:1 to 3:2 (dermatoscopes), 16:9 at most (phones);
# squashing anything longer than 4:1 into the model's square says nothing
# about a lesion, and hair-removal cost grows with the long side.
MAX_ASPECT_RATIO = 4.0
# A 1x1 or thumbnail-sized image holds no lesion detail; the model sees 128x128.
MIN_IMAGE_SIDE = 32
# A model may tighten the app's decompression-bomb limit, never loosen it, and
# must allow at least an ordinary 1-megapixel photograph.
MIN_MAX_PIXELS = 1_000_000
# An image whose every channel spans at most this many levels is blank (a
# constant colour, give or take JPEG rounding): refused rather than decided.
BLANK_MAX_RANGE = 2
# Largest black-hat kernel and inpainting radius (pixels) a configuration may
# reach on its largest working image; the defaults reach 49 and 8.5.
MAX_BLACKHAT_KERNEL = 101
MAX_INPAINT_RADIUS = 25.0


@dataclass(frozen=True)
class PreprocessConfig:
    """Every parameter of preprocessing; stored in the model's metadata.

    Hair removal runs at a reduced working resolution: the longest side is
    brought down to ``hair_work_max_side`` (never up), keeping the shorter side
    at least ``size`` when the original allows. Why 256: the model only sees
    128x128, so hair thinner than ~1/256 of the image vanishes in the final
    resize anyway, while Telea inpainting cost grows with pixel count (about
    70 ms at 1024x768, seconds for a 10 MP original). The ISIC training images
    are 180x180 and are processed at their own size. Kernel and inpainting
    radius are given for a ``hair_ref_side``-pixel image and scaled with the
    working resolution, so a hair covers the same fraction of the kernel
    whatever the original's size.
    """

    size: int = 128
    hair_removal: bool = True
    hair_work_max_side: int = 256
    hair_ref_side: int = 180
    blackhat_kernel: int = 17
    blackhat_shape: str = "cross"
    hair_threshold: int = 10
    inpaint_radius: float = 3.0
    resize_interpolation: str = "area"
    max_pixels: int = DEFAULT_MAX_PIXELS
    version: int = PREPROCESS_VERSION
    # "shades_of_gray": Finlayson & Trezzi's colour constancy (Minkowski p = 6), a standard
    # ISIC step against camera and site colour casts. "none" (the reference) is left out of
    # to_dict, so configurations and cache keys from before the option stay as they were.
    colour_constancy: str = "none"
    # Crop the dermoscope's black frame (rows and columns at the edges that are mostly
    # near-black) before anything else: the classifier's input (issue 34) sees the field
    # of view, not the vignette. False (the CAE) is left out of to_dict, like "none" above.
    crop_field_of_view: bool = False

    def __post_init__(self) -> None:
        _check_int("size", self.size, 8, 512)
        if not isinstance(self.hair_removal, bool):
            msg = f"hair_removal must be true or false, got {self.hair_removal!r}"
            raise ValueError(msg)
        _check_int("hair_work_max_side", self.hair_work_max_side, 8, 1024)
        _check_int("hair_ref_side", self.hair_ref_side, 16, 4096)
        _check_int("blackhat_kernel", self.blackhat_kernel, 1, 63)
        _check_int("hair_threshold", self.hair_threshold, 0, 255)
        _check_float("inpaint_radius", self.inpaint_radius, 0.0, 20.0)
        _check_int("max_pixels", self.max_pixels, MIN_MAX_PIXELS, 2**62)
        if self.blackhat_shape not in _SHAPES:
            msg = f"blackhat_shape must be one of {sorted(_SHAPES)}, got {self.blackhat_shape!r}"
            raise ValueError(msg)
        if not isinstance(self.crop_field_of_view, bool):
            msg = f"crop_field_of_view must be true or false, got {self.crop_field_of_view!r}"
            raise ValueError(msg)
        if self.colour_constancy not in COLOUR_CONSTANCY:
            msg = (f"colour_constancy must be one of {sorted(COLOUR_CONSTANCY)}, "
                   f"got {self.colour_constancy!r}")
            raise ValueError(msg)
        if self.resize_interpolation not in _INTERP:
            msg = f"resize_interpolation must be one of {sorted(_INTERP)}"
            raise ValueError(msg)
        if self.hair_work_max_side < self.size:
            msg = "hair_work_max_side must be at least size"
            raise ValueError(msg)
        # Kernel and radius grow with the working side: bounded at the largest one.
        side = max_work_side(self)
        if blackhat_kernel_size(side, self) > MAX_BLACKHAT_KERNEL:
            msg = (
                f"blackhat_kernel {self.blackhat_kernel} at hair_ref_side {self.hair_ref_side} "
                f"grows to {blackhat_kernel_size(side, self)} pixels on a {side}-pixel side; "
                f"at most {MAX_BLACKHAT_KERNEL}"
            )
            raise ValueError(msg)
        if inpaint_radius_at(side, self) > MAX_INPAINT_RADIUS:
            msg = (
                f"inpaint_radius {self.inpaint_radius:g} at hair_ref_side {self.hair_ref_side} "
                f"grows to {inpaint_radius_at(side, self):.0f} pixels on a {side}-pixel side; "
                f"at most {MAX_INPAINT_RADIUS}"
            )
            raise ValueError(msg)
        if self.version not in SUPPORTED_PREPROCESS_VERSIONS:
            msg = (
                f"preprocessing version {self.version!r} is not one this app implements "
                f"({sorted(SUPPORTED_PREPROCESS_VERSIONS)})"
            )
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        if out["colour_constancy"] == "none":
            del out["colour_constancy"]
        if not out["crop_field_of_view"]:
            del out["crop_field_of_view"]
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(data) - names
        if unknown:
            msg = f"unknown preprocessing parameters: {sorted(unknown)}"
            raise ValueError(msg)
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> PreprocessConfig:
        return cls.from_dict(json.loads(text))

    def digest(self) -> str:
        """Short hash of the parameters, used as a cache key."""
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"{name} must be a whole number from {low} to {high}, got {value!r}"
        raise ValueError(msg)


def _check_float(name: str, value: object, low: float, high: float) -> None:
    """``low < value <= high``, finite (NaN and infinities fail)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or not low < value <= high:
        msg = f"{name} must be a number above {low:g} and at most {high:g}, got {value!r}"
        raise ValueError(msg)


_SHAPES = {"cross": cv2.MORPH_CROSS, "rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE}
_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}
COLOUR_CONSTANCY = ("none", "shades_of_gray")
SHADES_OF_GRAY_POWER = 6


def max_work_side(cfg: PreprocessConfig) -> int:
    """The longest side hair removal ever runs on: bounds its cost for any input."""
    return max(cfg.hair_work_max_side, math.ceil(MAX_ASPECT_RATIO * cfg.size))


def effective_max_pixels(cfg: PreprocessConfig) -> int:
    """The decompression-bomb limit: the model's ``max_pixels`` may tighten the app's, never loosen it."""
    return min(cfg.max_pixels, DEFAULT_MAX_PIXELS)


def working_size(width: int, height: int, cfg: PreprocessConfig) -> tuple[int, int]:
    """(width, height) at which hair removal runs for an image of this size."""
    scale = min(1.0, cfg.hair_work_max_side / max(width, height))
    # Keep enough pixels for the final resize when the original has them.
    scale = max(scale, min(1.0, cfg.size / min(width, height)))
    # Beyond MAX_ASPECT_RATIO (arrays the decoder did not check) the long side
    # is capped instead, so the kernel and inpainting radius stay bounded.
    scale = min(scale, max_work_side(cfg) / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _odd(n: float) -> int:
    k = max(3, round(n))
    return k if k % 2 == 1 else k + 1


def blackhat_kernel_size(side: int, cfg: PreprocessConfig) -> int:
    """Black-hat kernel (odd, pixels) for an image whose longest side is ``side``."""
    return _odd(cfg.blackhat_kernel * side / cfg.hair_ref_side)


def inpaint_radius_at(side: int, cfg: PreprocessConfig) -> float:
    """Telea inpainting radius (pixels) for an image whose longest side is ``side``."""
    return max(1.0, cfg.inpaint_radius * side / cfg.hair_ref_side)


def hair_mask(rgb: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Binary uint8 mask (255 = hair) from a morphological black-hat."""
    side = max(rgb.shape[:2])
    kernel_size = blackhat_kernel_size(side, cfg)
    kernel = cv2.getStructuringElement(_SHAPES[cfg.blackhat_shape], (kernel_size, kernel_size))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, cfg.hair_threshold, 255, cv2.THRESH_BINARY)
    return mask


def remove_hair(rgb: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Digital hair removal: black-hat mask, then Telea inpainting. RGB uint8 in and out."""
    mask = hair_mask(rgb, cfg)
    if not mask.any():
        return rgb
    radius = inpaint_radius_at(max(rgb.shape[:2]), cfg)
    return cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA)


def shades_of_gray(rgb: np.ndarray, power: int = SHADES_OF_GRAY_POWER) -> np.ndarray:
    """Shades of Gray colour constancy (Finlayson & Trezzi 2004). RGB uint8 in and out.

    The illuminant is each channel's Minkowski ``power``-mean; every channel is
    scaled so the illuminant becomes neutral grey of the same length. An image
    with a (nearly) black channel has no illuminant to estimate and is returned as is.
    """
    pixels = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    illuminant = np.mean(pixels**power, axis=0) ** (1.0 / power)
    if illuminant.min() < 1e-3:
        return rgb
    gain = np.linalg.norm(illuminant) / (illuminant * math.sqrt(3.0))
    out = rgb.astype(np.float32) * gain.astype(np.float32)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


# Field-of-view crop: a pixel is frame when its brightest channel is below FRAME_DARK; an edge
# row or column is frame when fewer than FRAME_MIN_SHARE of its pixels are lit. A crop that
# would keep less than FRAME_MIN_KEEP of either side is not made (a dark image stays whole).
FRAME_DARK = 31
FRAME_MIN_SHARE = 0.25
FRAME_MIN_KEEP = 0.5


def field_of_view_box(rgb: np.ndarray) -> tuple[int, int, int, int]:
    """(top, bottom, left, right), bottom/right exclusive: the image without its dark frame.

    Only edge rows and columns are dropped (a dark lesion in the middle cannot cut the
    image); a circular aperture keeps its bounding square, minus the corner rows and
    columns that are mostly black.
    """
    height, width = rgb.shape[:2]
    lit = rgb.max(axis=2) >= FRAME_DARK
    rows = np.flatnonzero(lit.mean(axis=1) >= FRAME_MIN_SHARE)
    cols = np.flatnonzero(lit.mean(axis=0) >= FRAME_MIN_SHARE)
    if rows.size == 0 or cols.size == 0:
        return 0, height, 0, width
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    if bottom - top < FRAME_MIN_KEEP * height or right - left < FRAME_MIN_KEEP * width:
        return 0, height, 0, width
    return top, bottom, left, right


def crop_field_of_view(rgb: np.ndarray) -> np.ndarray:
    """``rgb`` cropped to :func:`field_of_view_box` (a view, no copy)."""
    top, bottom, left, right = field_of_view_box(rgb)
    return rgb[top:bottom, left:right]


def preprocess_array(rgb: np.ndarray, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (size, size, 3) in [0, 1]."""
    cfg = cfg or PreprocessConfig()
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        msg = f"expected an (H, W, 3) uint8 RGB array, got {rgb.dtype} {rgb.shape}"
        raise ValueError(msg)
    if cfg.crop_field_of_view:
        rgb = np.ascontiguousarray(crop_field_of_view(rgb))
    height, width = rgb.shape[:2]
    work_w, work_h = working_size(width, height, cfg)
    if (work_w, work_h) != (width, height):
        rgb = cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA)
    if cfg.hair_removal:
        rgb = remove_hair(np.ascontiguousarray(rgb), cfg)
    if cfg.colour_constancy == "shades_of_gray":
        rgb = shades_of_gray(rgb)
    small = cv2.resize(rgb, (cfg.size, cfg.size), interpolation=_INTERP[cfg.resize_interpolation])
    return small.astype(np.float32) * np.float32(1.0 / 255.0)


def check_not_blank(rgb: np.ndarray, path: str | Path) -> None:
    """Raise :class:`BlankImageError` when every channel of ``rgb`` is (nearly) constant."""
    # cv2 per channel: ~40x faster than numpy's strided axis-0 reduction (1 ms a 180x180 image).
    spread = max(int(hi - lo) for lo, hi, _, _ in (cv2.minMaxLoc(ch) for ch in cv2.split(rgb)))
    if spread <= BLANK_MAX_RANGE:
        colour = ", ".join(str(int(v)) for v in rgb[0, 0])
        raise BlankImageError(
            path, f"image is blank (every pixel is colour {colour}); there is no lesion to judge"
        )


def decode_bytes_for_model(blob: ImageBytes, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """Decode file bytes at the resolution preprocessing needs (JPEG DCT scaling where it helps).

    Refuses, with a typed :class:`~desktop_app.core.base.errors.ImageError`, what
    the model cannot judge: over the pixel limit, a side under
    :data:`MIN_IMAGE_SIDE`, an aspect ratio beyond :data:`MAX_ASPECT_RATIO`
    (all from the header, before decoding), or a blank image.
    """
    return decode_bytes_for_inputs(blob, [cfg or PreprocessConfig()])


def decode_bytes_for_inputs(blob: ImageBytes, cfgs: Sequence[PreprocessConfig]) -> np.ndarray:
    """One decode that serves every input's preprocessing: at least the largest working
    side any of them needs, under the tightest pixel limit (see :func:`decode_bytes_for_model`)."""
    # Ask the decoder for at least the working resolution in both directions;
    # a JPEG is then decoded at 1/2, 1/4 or 1/8 scale instead of in full.
    side = max(c.hair_work_max_side for c in cfgs)
    rgb = decode_image(
        blob,
        max_pixels=min(effective_max_pixels(c) for c in cfgs),
        min_size=(side, side),
        min_side=MIN_IMAGE_SIDE,
        max_aspect=MAX_ASPECT_RATIO,
    )
    check_not_blank(rgb, blob.path)
    return rgb


def preprocess_inputs(rgb: np.ndarray, cfgs: Mapping[str, PreprocessConfig]) -> dict[str, np.ndarray]:
    """Every named input's tensor from one decoded image (input name -> (size, size, 3))."""
    return {name: preprocess_array(rgb, cfg) for name, cfg in cfgs.items()}


def decode_for_model(path: str | Path, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """:func:`decode_bytes_for_model` of the file at ``path`` (read once)."""
    return decode_bytes_for_model(read_file(path), cfg)


def preprocess_bytes(blob: ImageBytes, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """File bytes -> model input tensor (size, size, 3) float32 in [0, 1]."""
    cfg = cfg or PreprocessConfig()
    return preprocess_array(decode_bytes_for_model(blob, cfg), cfg)


def preprocess_file(path: str | Path, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """File -> model input tensor (size, size, 3) float32 in [0, 1]."""
    return preprocess_bytes(read_file(path), cfg)
