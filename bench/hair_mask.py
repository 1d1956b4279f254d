"""Where hair removal's time goes, and whether an identical-output shortcut exists (issue 17).

For a seeded sample of isic9 Train images at the working resolution: the hair
mask's area fraction (quantiles, share of empty masks, which skip inpainting
already), and Telea inpainting on the whole image against inpainting only the
mask's bounding box (plus a margin of twice the radius): the times side by
side and whether the outputs are byte-identical. Not a test: times vary.

    .venv/bin/python bench/hair_mask.py [--n 150] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from pathlib import Path

import cv2
import numpy as np

from desktop_app.core.imaging.preprocess import (
    PreprocessConfig,
    hair_mask,
    inpaint_radius_at,
    working_size,
)

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = PreprocessConfig()
    files = sorted((DATA / "isic9" / "Train").glob("*/*.jpg"))
    random.Random(args.seed).shuffle(files)
    fractions, box_fractions = [], []
    full_s = crop_s = 0.0
    identical = inpainted = 0
    for path in files[: args.n]:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        h, w = rgb.shape[:2]
        ww, hh = working_size(w, h, cfg)
        rgb = np.ascontiguousarray(cv2.resize(rgb, (ww, hh), interpolation=cv2.INTER_AREA))
        mask = hair_mask(rgb, cfg)
        fractions.append(float((mask > 0).mean()))
        if not mask.any():
            continue
        radius = inpaint_radius_at(max(hh, ww), cfg)
        t0 = time.perf_counter()
        full = cv2.inpaint(rgb, mask, radius, cv2.INPAINT_TELEA)
        t1 = time.perf_counter()
        ys, xs = np.nonzero(mask)
        pad = int(2 * np.ceil(radius)) + 4
        y0, y1 = max(0, ys.min() - pad), min(hh, ys.max() + pad + 1)
        x0, x1 = max(0, xs.min() - pad), min(ww, xs.max() + pad + 1)
        out = rgb.copy()
        out[y0:y1, x0:x1] = cv2.inpaint(np.ascontiguousarray(rgb[y0:y1, x0:x1]),
                                        np.ascontiguousarray(mask[y0:y1, x0:x1]), radius,
                                        cv2.INPAINT_TELEA)
        t2 = time.perf_counter()
        full_s, crop_s = full_s + t1 - t0, crop_s + t2 - t1
        box_fractions.append((y1 - y0) * (x1 - x0) / (hh * ww))
        identical += int(np.array_equal(out, full))
        inpainted += 1
    q = np.quantile(fractions, [0.0, 0.1, 0.5, 0.9, 1.0])
    print(f"images: {len(fractions)} isic9 Train (seed {args.seed}), working size <= "
          f"{cfg.hair_work_max_side} px")
    print("hair-mask area fraction  min / p10 / median / p90 / max: "
          + " / ".join(f"{100 * v:.1f}%" for v in q))
    print(f"empty masks (inpainting skipped already): {sum(f == 0 for f in fractions)}")
    if inpainted:
        print(f"mask bounding box / image, median: {100 * np.median(box_fractions):.0f}%")
        print(f"Telea whole image {1000 * full_s / inpainted:.2f} ms/image   bounding box only "
              f"{1000 * crop_s / inpainted:.2f} ms/image   ratio {full_s / max(crop_s, 1e-9):.2f}x   "
              f"byte-identical {identical}/{inpainted}")


if __name__ == "__main__":
    main()
