"""The heatmap's colour legend, drawn below the image where a viewer shows no overlay scale
(the Secondary Capture a PACS stores)."""

from __future__ import annotations

import numpy as np


def with_legend(pixels: np.ndarray, vmax: float) -> np.ndarray:
    """``pixels`` (H, W, 3) with a colour legend strip below: the heatmap's colour scale from
    0 to ``vmax`` (its fixed full scale) and the numbers at both ends."""
    from PIL import Image, ImageDraw, ImageFont

    from desktop_app.core.imaging.heatmap import colorbar

    height, width = pixels.shape[:2]
    bar_h = max(8, height // 24)
    text_h = max(12, height // 16)
    margin = max(4, width // 40)
    strip = Image.new("RGB", (width, bar_h + text_h + 2 * margin), (255, 255, 255))
    bar_w = max(2, width - 2 * margin)
    bar = np.ascontiguousarray(np.rot90(colorbar(height=bar_w, width=bar_h), k=-1))  # left = 0
    strip.paste(Image.fromarray(bar), (margin, margin))
    draw = ImageDraw.Draw(strip)
    try:
        font = ImageFont.load_default(size=text_h - 2)
    except (TypeError, OSError):  # Pillow built without FreeType: the bitmap font
        font = ImageFont.load_default()
    y = margin + bar_h + 1
    draw.text((margin, y), "0", fill=(0, 0, 0), font=font)
    right = f">= {vmax:.3g}"
    draw.text((width - margin - draw.textlength(right, font=font), y), right,
              fill=(0, 0, 0), font=font)
    middle = "reconstruction error"
    mid_w = draw.textlength(middle, font=font)
    room = bar_w - draw.textlength("0", font=font) - 2 * draw.textlength(right, font=font)
    if mid_w + 2 * margin < room:  # only where it clears both numbers
        draw.text(((width - mid_w) / 2, y), middle, fill=(0, 0, 0), font=font)
    return np.concatenate([np.asarray(pixels, dtype=np.uint8), np.asarray(strip)], axis=0)
