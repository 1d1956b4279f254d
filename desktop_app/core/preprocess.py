"""The one preprocessing implementation, shared by training and the app.

decode (RGB) -> digital hair removal (black-hat, threshold, Telea inpainting)
-> resize to ``size`` x ``size`` -> float32 in [0, 1].

Training and the app call :func:`preprocess_file` with the configuration stored
in the model, so the same file gives bit-identical tensors on both sides.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from desktop_app.core.imageio import DEFAULT_MAX_PIXELS, read_image

PREPROCESS_VERSION = 1


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

    def __post_init__(self) -> None:
        if self.size < 8:
            msg = f"size must be at least 8, got {self.size}"
            raise ValueError(msg)
        if self.blackhat_shape not in _SHAPES:
            msg = f"blackhat_shape must be one of {sorted(_SHAPES)}, got {self.blackhat_shape!r}"
            raise ValueError(msg)
        if self.resize_interpolation not in _INTERP:
            msg = f"resize_interpolation must be one of {sorted(_INTERP)}"
            raise ValueError(msg)
        if self.hair_work_max_side < self.size:
            msg = "hair_work_max_side must be at least size"
            raise ValueError(msg)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

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


_SHAPES = {"cross": cv2.MORPH_CROSS, "rect": cv2.MORPH_RECT, "ellipse": cv2.MORPH_ELLIPSE}
_INTERP = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR, "cubic": cv2.INTER_CUBIC}


def working_size(width: int, height: int, cfg: PreprocessConfig) -> tuple[int, int]:
    """(width, height) at which hair removal runs for an image of this size."""
    scale = min(1.0, cfg.hair_work_max_side / max(width, height))
    # Keep enough pixels for the final resize when the original has them.
    scale = max(scale, min(1.0, cfg.size / min(width, height)))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _odd(n: float) -> int:
    k = max(3, round(n))
    return k if k % 2 == 1 else k + 1


def hair_mask(rgb: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """Binary uint8 mask (255 = hair) from a morphological black-hat."""
    side = max(rgb.shape[:2])
    kernel_size = _odd(cfg.blackhat_kernel * side / cfg.hair_ref_side)
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
    side = max(rgb.shape[:2])
    radius = max(1.0, cfg.inpaint_radius * side / cfg.hair_ref_side)
    return cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA)


def preprocess_array(rgb: np.ndarray, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """RGB uint8 (H, W, 3) -> float32 (size, size, 3) in [0, 1]."""
    cfg = cfg or PreprocessConfig()
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        msg = f"expected an (H, W, 3) uint8 RGB array, got {rgb.dtype} {rgb.shape}"
        raise ValueError(msg)
    height, width = rgb.shape[:2]
    work_w, work_h = working_size(width, height, cfg)
    if (work_w, work_h) != (width, height):
        rgb = cv2.resize(rgb, (work_w, work_h), interpolation=cv2.INTER_AREA)
    if cfg.hair_removal:
        rgb = remove_hair(np.ascontiguousarray(rgb), cfg)
    small = cv2.resize(rgb, (cfg.size, cfg.size), interpolation=_INTERP[cfg.resize_interpolation])
    return small.astype(np.float32) * np.float32(1.0 / 255.0)


def decode_for_model(path: str | Path, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """Decode a file at the resolution preprocessing needs (JPEG DCT scaling where it helps)."""
    cfg = cfg or PreprocessConfig()
    # Ask the decoder for at least the working resolution in both directions;
    # a JPEG is then decoded at 1/2, 1/4 or 1/8 scale instead of in full.
    want = (cfg.hair_work_max_side, cfg.hair_work_max_side)
    return read_image(path, max_pixels=cfg.max_pixels, min_size=want)


def preprocess_file(path: str | Path, cfg: PreprocessConfig | None = None) -> np.ndarray:
    """File -> model input tensor (size, size, 3) float32 in [0, 1]."""
    cfg = cfg or PreprocessConfig()
    return preprocess_array(decode_for_model(path, cfg), cfg)
