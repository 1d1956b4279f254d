"""Heatmap colouring on a fixed scale, shared by the GUI and the PDF reports.

The error map is divided by the model's ``heatmap_vmax`` (a high quantile of
benign validation error maps) and clipped to [0, 1], never normalised per
image: a calm benign case then looks calm, and two cases are comparable.
Colours come from a built-in "inferno" table (perceptually uniform, readable
in greyscale print), so the app needs no matplotlib.
"""

from __future__ import annotations

import cv2
import numpy as np

# matplotlib's "inferno" sampled at 33 evenly spaced points (0-255 RGB);
# linear interpolation between them stays within 5/255 of the full table.
_INFERNO_KNOTS = np.array(
    [
        (0, 0, 4), (4, 3, 18), (11, 7, 36), (21, 11, 55),
        (33, 12, 74), (47, 10, 91), (61, 9, 101), (74, 12, 107),
        (87, 16, 110), (100, 21, 110), (113, 25, 110), (125, 30, 109),
        (138, 34, 106), (151, 39, 102), (163, 44, 97), (176, 49, 91),
        (188, 55, 84), (199, 62, 76), (210, 70, 68), (219, 80, 59),
        (228, 90, 49), (235, 102, 40), (241, 115, 29), (246, 128, 19),
        (249, 142, 9), (251, 157, 7), (252, 172, 17), (251, 188, 33),
        (249, 203, 53), (245, 219, 76), (242, 234, 105), (243, 246, 138),
        (252, 255, 164),
    ],
    dtype=np.float64,
)


def _build_lut(knots: np.ndarray) -> np.ndarray:
    xs = np.linspace(0.0, 1.0, len(knots))
    grid = np.linspace(0.0, 1.0, 256)
    lut = np.stack([np.interp(grid, xs, knots[:, c]) for c in range(3)], axis=1)
    return np.clip(np.rint(lut), 0, 255).astype(np.uint8)


INFERNO_LUT: np.ndarray = _build_lut(_INFERNO_KNOTS)  # (256, 3) uint8


def normalize(error_map: np.ndarray, vmax: float) -> np.ndarray:
    """error_map / vmax clipped to [0, 1] (float32); NaN counts as 0."""
    if not np.isfinite(vmax) or vmax <= 0:
        msg = f"heatmap vmax must be a positive number, got {vmax!r}"
        raise ValueError(msg)
    arr = np.nan_to_num(np.asarray(error_map, dtype=np.float32), nan=0.0, posinf=vmax, neginf=0.0)
    return np.clip(arr / np.float32(vmax), 0.0, 1.0)


def colorize(error_map: np.ndarray, vmax: float) -> np.ndarray:
    """(H, W) error map -> (H, W, 3) RGB uint8 through the inferno table, fixed scale."""
    arr = np.asarray(error_map)
    if arr.ndim != 2:
        msg = f"expected a 2-D error map, got shape {arr.shape}"
        raise ValueError(msg)
    idx = np.rint(normalize(arr, vmax) * 255.0).astype(np.uint8)
    return INFERNO_LUT[idx]


def overlay(
    original_rgb: np.ndarray, error_map: np.ndarray, vmax: float, opacity: float = 0.5,
    inside: np.ndarray | None = None,
) -> np.ndarray:
    """Blend the coloured heatmap over ``original_rgb`` (resized to its size). RGB uint8 out.

    ``inside`` (the model input's :func:`field_of_view`): the heatmap is drawn only there, so a
    report shows what the window shows (no colour on the dermoscope's frame or vignette)."""
    rgb = np.asarray(original_rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        msg = f"expected an (H, W, 3) uint8 RGB image, got {rgb.dtype} {rgb.shape}"
        raise ValueError(msg)
    opacity = float(np.clip(opacity, 0.0, 1.0))
    height, width = rgb.shape[:2]
    emap = np.asarray(error_map, dtype=np.float32)
    if emap.shape != (height, width):
        emap = cv2.resize(emap, (width, height), interpolation=cv2.INTER_LINEAR)
    colours = colorize(emap, vmax).astype(np.float32)
    weight = np.full((height, width, 1), opacity, np.float32)
    if inside is not None:
        mask = cv2.resize(np.asarray(inside, np.uint8), (width, height),
                          interpolation=cv2.INTER_NEAREST).astype(bool)
        weight[~mask] = 0.0
    blended = rgb.astype(np.float32) * (1.0 - weight) + colours * weight
    return np.clip(np.rint(blended), 0, 255).astype(np.uint8)


def colorbar(height: int = 256, width: int = 16) -> np.ndarray:
    """A vertical colour bar (top = vmax) as RGB uint8, for legends."""
    ramp = np.linspace(1.0, 0.0, max(2, height))
    idx = np.rint(ramp * 255.0).astype(np.uint8)
    return np.ascontiguousarray(np.repeat(INFERNO_LUT[idx][:, None, :], max(1, width), axis=1))


# A pixel darker than this (max of R, G, B in [0, 1]) that is joined to the image border
# is the dermoscope's black field or vignette, not skin.
FOV_DARK = 0.12
CASE_SCALE_QUANTILE = 99.0  # the per-case scale: this percentile of the in-field error
FIXED_SCALE, CASE_SCALE = "fixed", "case"
# What the colour bar says about its scale (short: it runs along the bar).
SCALE_NAMES: dict[str, str] = {
    FIXED_SCALE: "fixed scale",
    CASE_SCALE: "this case's scale",
}


# An oval or circular dermoscope field: the unlit part is dimmer than this share of the skin's
# brightness (the central region's 75th percentile); the field is then the ellipse fitted to
# that edge, shrunk by FOV_RING_MARGIN of its size, so the vignette ring (which an
# autoencoder reconstructs badly on every such image) is not painted as an anomaly.
FOV_DIM = 0.72
FOV_RING_MARGIN = 0.07
FOV_MIN_OUTSIDE = 0.02  # less unlit area than this share of the image: no scope field


def _border_connected(mask: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` (uint8 0/1) joined to the image border."""
    count, labels = cv2.connectedComponents(mask, connectivity=8)
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    return np.isin(labels, [b for b in border if b != 0 and count > 1]) & mask.astype(bool)


def _scope_ellipse(unlit: np.ndarray) -> np.ndarray | None:
    """The field inside an oval or circular scope's unlit surround, shrunk past its vignette
    ring; None when the surround is no scope field (fewer than 3 dark corners, too small)."""
    h, w = unlit.shape
    corners = sum(bool(unlit[y, x]) for y in (0, h - 1) for x in (0, w - 1))
    if unlit.mean() < FOV_MIN_OUTSIDE or corners < 3:
        return None
    lit = (~unlit).astype(np.uint8)
    contours, _ = cv2.findContours(lit, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    pts = np.concatenate(contours).reshape(-1, 2)
    # Where the field runs off the image, its edge is the image's, not the scope's.
    off = (pts[:, 0] <= 0) | (pts[:, 0] >= w - 1) | (pts[:, 1] <= 0) | (pts[:, 1] >= h - 1)
    pts = pts[~off]
    if len(pts) < 20:
        return None
    (cx, cy), (a, b), angle = cv2.fitEllipse(pts.astype(np.float32))
    keep = 1.0 - FOV_RING_MARGIN
    mask = np.zeros((h, w), np.uint8)
    cv2.ellipse(mask, ((cx, cy), (a * keep, b * keep), angle), 1, -1)
    inside = mask.astype(bool) & lit.astype(bool)
    return inside if inside.mean() > 0.2 else None


def field_of_view(model_input: np.ndarray) -> np.ndarray:
    """(H, W) bool: True inside the dermoscope's field of view.

    An oval or circular field (its unlit surround darkens at least three corners) is the
    ellipse fitted to its edge, shrunk past the vignette ring; otherwise the black frame
    (dark pixels joined to the border) is masked. A dark lesion in the middle is never
    outside; an image with no dark border is all field of view.
    """
    rgb = np.asarray(model_input, dtype=np.float32)
    if rgb.ndim != 3:
        msg = f"expected an (H, W, 3) image, got shape {rgb.shape}"
        raise ValueError(msg)
    if rgb.max(initial=0.0) > 1.5:  # uint8 input
        rgb = rgb / 255.0
    value = cv2.blur(rgb.max(axis=2), (3, 3))
    h, w = value.shape
    skin = float(np.percentile(value[h // 4:h - h // 4, w // 4:w - w // 4], 75))
    unlit = _border_connected((value < max(FOV_DARK, FOV_DIM * skin)).astype(np.uint8))
    scope = _scope_ellipse(unlit)
    if scope is not None:
        return scope
    inside = ~_border_connected((value < FOV_DARK).astype(np.uint8))
    return inside if inside.any() else np.ones_like(inside)


def case_vmax(error_map: np.ndarray, inside: np.ndarray | None = None,
              quantile: float = CASE_SCALE_QUANTILE) -> float:
    """The per-case full-scale: ``quantile`` of the error inside the field of view."""
    arr = np.nan_to_num(np.asarray(error_map, dtype=np.float32), nan=0.0)
    values = arr[inside] if inside is not None and inside.shape == arr.shape else arr.ravel()
    top = float(np.percentile(values, quantile)) if values.size else 0.0
    return top if top > 0 else 1.0


def colorize_in_field(error_map: np.ndarray, vmax: float, inside: np.ndarray) -> np.ndarray:
    """(H, W, 4) RGBA: the heatmap inside the field of view, transparent outside it."""
    rgb = colorize(error_map, vmax)
    alpha = np.where(inside, 255, 0).astype(np.uint8)
    return np.ascontiguousarray(np.dstack([rgb, alpha]))


def evidence_in_field(evidence_map: np.ndarray, inside: np.ndarray) -> tuple[np.ndarray, float]:
    """A combined model's classifier evidence (class activation map, logit units) as RGBA:
    only the part that pushes towards malignant, on this case's own scale (its
    :data:`CASE_SCALE_QUANTILE` inside the field of view), transparent outside the field.
    Returns the colours and the full-scale value."""
    towards = np.clip(np.nan_to_num(np.asarray(evidence_map, dtype=np.float32)), 0.0, None)
    vmax = case_vmax(towards, inside)
    return colorize_in_field(towards, vmax, inside), vmax
