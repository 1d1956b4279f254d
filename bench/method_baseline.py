"""The method's own per-image pipeline, written from its description, for whole-process comparison.

For each image, one at a time: OpenCV ``imread`` (full resolution) -> digital
hair removal at that resolution (grayscale black-hat with a 17x17 cross,
threshold 10, Telea inpainting radius 3) -> resize to 128x128 -> scale to
[0, 1] -> Keras ``model.predict`` on the one image -> score
``0.4 * MSE + 0.6 * (1 - SSIM)`` with scikit-image's ``structural_similarity``
(default 7x7 uniform window, sample covariance, data range 1, mean over the
colour channels) -> decision against the threshold -> one CSV row.

scikit-image is not a DermScreen dependency; when it is absent, :func:`ssim`
is a line-for-line port of its default ``structural_similarity`` on OpenCV box
filters (the same arithmetic in float64), and the run says so. The Keras model
is the trained one of ``--run`` when given, else an untrained ``build_cae()``
(same architecture, so the same cost). Run as its own process by
``bench/batch.py``; prints one summary line.

    .venv/bin/python bench/method_baseline.py FOLDER [--run DIR] [--threshold T] [--out CSV]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SUFFIXES = (".jpg", ".jpeg", ".png")


def _skimage_ssim_port(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """scikit-image ``structural_similarity(a, b, channel_axis=-1, data_range=1)`` (defaults)."""
    win, k1, k2 = 7, 0.01, 0.03
    n = win * win
    cov_norm = n / (n - 1)  # use_sample_covariance=True
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    pad = (win - 1) // 2
    out = []
    for ch in range(a.shape[-1]):
        x = a[..., ch].astype(np.float64)
        y = b[..., ch].astype(np.float64)

        def box(img: np.ndarray) -> np.ndarray:
            # ndimage.uniform_filter(mode="reflect") == cv2 box filter with BORDER_REFLECT.
            return cv2.blur(img, (win, win), borderType=cv2.BORDER_REFLECT)

        ux, uy = box(x), box(y)
        uxx, uyy, uxy = box(x * x), box(y * y), box(x * y)
        vx = cov_norm * (uxx - ux * ux)
        vy = cov_norm * (uyy - uy * uy)
        vxy = cov_norm * (uxy - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        out.append(s[pad:-pad, pad:-pad].mean())
    return float(np.mean(out))


try:  # the method's own library when installed
    from skimage.metrics import structural_similarity as _sk_ssim

    def ssim(a: np.ndarray, b: np.ndarray) -> float:
        return float(_sk_ssim(a, b, channel_axis=-1, data_range=1.0))

    SSIM_SOURCE = "scikit-image structural_similarity"
except ImportError:
    ssim = _skimage_ssim_port
    SSIM_SOURCE = "port of scikit-image's default structural_similarity (scikit-image not installed)"


def remove_hair_full(bgr: np.ndarray) -> np.ndarray:
    """The method's hair removal at the image's own resolution."""
    gray = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
    kernel = cv2.getStructuringElement(cv2.MORPH_CROSS, (17, 17))
    blackhat = cv2.morphologyEx(gray, cv2.MORPH_BLACKHAT, kernel)
    _, mask = cv2.threshold(blackhat, 10, 255, cv2.THRESH_BINARY)
    return cv2.inpaint(bgr, mask, 3, cv2.INPAINT_TELEA)


def load_keras(run_dir: Path | None) -> tuple[object, str]:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if run_dir is not None:
        from training.run import load_keras_model

        return load_keras_model(run_dir), f"trained Keras model from {run_dir}"
    from training.model import build_cae

    return build_cae(), "untrained build_cae() (same architecture and cost)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--run", type=Path, default=None)
    parser.add_argument("--threshold", type=float, default=0.15)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    files = sorted(p for p in args.folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    model, which = load_keras(args.run)
    start = time.perf_counter()
    rows = []
    for path in files:
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            rows.append((str(path), "", "error"))
            continue
        clean = remove_hair_full(bgr)
        rgb = cv2.cvtColor(cv2.resize(clean, (128, 128), interpolation=cv2.INTER_AREA),
                           cv2.COLOR_BGR2RGB)
        x = rgb.astype(np.float32) / 255.0
        recon = np.asarray(model.predict(x[None], verbose=0))[0]
        score = 0.4 * float(np.mean((x - recon) ** 2)) + 0.6 * (1.0 - ssim(x, recon))
        rows.append((str(path), f"{score:.8g}",
                     "anomalous" if score > args.threshold else "normal"))
    if args.out is not None:
        with open(args.out, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(("path", "score", "decision"))
            writer.writerows(rows)
    wall = time.perf_counter() - start
    print(f"{len(files)} files in {wall:.1f} s after start-up; {which}; SSIM: {SSIM_SOURCE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
