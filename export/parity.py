"""The parity gate: the ONNX graph must give the Keras model's outputs on real images.

Export refuses to write a model whose ``score`` or ``reconstruction`` differ
from Keras by more than the tolerances; a silently different score would move
every decision the app makes against the stored threshold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.evaluation.dataset import scan_dataset
from desktop_app.core.imaging.preprocess import PreprocessConfig, preprocess_file
from desktop_app.core.model.metadata import (
    INPUT_NAME,
    OUTPUT_ERROR_MAP,
    OUTPUT_NAMES,
    OUTPUT_RECONSTRUCTION,
    OUTPUT_SCORE,
)

SCORE_TOL = 1e-5
RECON_TOL = 1e-4
# The error map is per pixel, where the SSIM term divides fp32 rounding noise
# of the local variances by C2 = 9e-4: Keras and ONNX Runtime were measured
# up to 5e-4 apart on single pixels while the scores (means over ~14,000
# pixels) agreed within 1e-5. 2e-3 is under 1% of a heatmap's full scale.
MAP_TOL = 2e-3
DEFAULT_PARITY_COUNT = 16


class ParityError(ValueError):
    """ONNX Runtime and Keras disagree beyond the tolerances: the model is not written."""


@dataclass(frozen=True)
class ParityReport:
    """Largest absolute Keras-vs-ONNX differences over the parity images."""

    n_images: int
    max_abs: dict[str, float]
    tolerances: dict[str, float]

    @property
    def passed(self) -> bool:
        return all(self.max_abs[k] <= tol for k, tol in self.tolerances.items())

    def describe(self) -> str:
        parts = [
            f"{name} {self.max_abs[name]:.3g} (limit {tol:.3g})"
            for name, tol in self.tolerances.items()
        ]
        return f"max |Keras - ONNX| over {self.n_images} images: " + ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {"n_images": self.n_images, "max_abs": self.max_abs, "tolerances": self.tolerances}


def select_parity_files(data_dir: str | Path, count: int = DEFAULT_PARITY_COUNT) -> list[Path]:
    """``count`` Test images spread evenly over the sorted Test split (all classes)."""
    samples = [s for s in scan_dataset(data_dir) if s.split in ("Test", "")]
    if not samples:
        msg = f"{data_dir}: no Test images to check parity on"
        raise ValueError(msg)
    idx = np.unique(np.linspace(0, len(samples) - 1, num=min(count, len(samples))).round())
    return [samples[int(i)].path for i in idx]


def load_parity_images(files: Sequence[Path], cfg: PreprocessConfig) -> np.ndarray:
    """Preprocess files exactly as the app does: float32 [N, size, size, 3]."""
    return np.stack([preprocess_file(f, cfg) for f in files]).astype(np.float32)


def outputs_as_dict(wrapper: Any, values: Any) -> dict[str, np.ndarray]:
    """A Keras wrapper's outputs (dict, list or tuple) keyed by the contract names."""
    if isinstance(values, Mapping):
        out = {str(k): np.asarray(v) for k, v in values.items()}
    else:
        names = list(getattr(wrapper, "output_names", []) or [])
        seq = list(values) if isinstance(values, list | tuple) else [values]
        if len(names) != len(seq):
            msg = f"wrapper gives {len(seq)} outputs but names {names}"
            raise ValueError(msg)
        out = {name: np.asarray(v) for name, v in zip(names, seq, strict=True)}
    missing = [n for n in OUTPUT_NAMES if n not in out]
    if missing:
        msg = f"wrapper lacks the contract output(s) {missing}; it has {sorted(out)}"
        raise ValueError(msg)
    return out


def keras_outputs(wrapper: Any, images: np.ndarray) -> dict[str, np.ndarray]:
    """The wrapper's outputs on ``images`` (inference mode)."""
    return outputs_as_dict(wrapper, wrapper(images, training=False))


def onnx_outputs(model_bytes: bytes, images: np.ndarray) -> dict[str, np.ndarray]:
    """The serialized ONNX model's outputs on ``images`` (ONNX Runtime, CPU)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    session = ort.InferenceSession(
        model_bytes, sess_options=opts, providers=["CPUExecutionProvider"]
    )
    values = session.run(list(OUTPUT_NAMES), {INPUT_NAME: images.astype(np.float32)})
    return dict(zip(OUTPUT_NAMES, values, strict=True))


def compare(
    reference: Mapping[str, np.ndarray],
    candidate: Mapping[str, np.ndarray],
    *,
    score_tol: float = SCORE_TOL,
    recon_tol: float = RECON_TOL,
    map_tol: float = MAP_TOL,
) -> ParityReport:
    """Max abs differences per output; shapes must agree exactly."""
    tolerances = {
        OUTPUT_SCORE: score_tol,
        OUTPUT_RECONSTRUCTION: recon_tol,
        OUTPUT_ERROR_MAP: map_tol,
    }
    max_abs: dict[str, float] = {}
    n_images = 0
    for name in tolerances:
        ref = np.asarray(reference[name], dtype=np.float64)
        got = np.asarray(candidate[name], dtype=np.float64)
        if ref.shape != got.shape:
            msg = f"output {name!r}: Keras shape {ref.shape} but ONNX shape {got.shape}"
            raise ParityError(msg)
        n_images = ref.shape[0]
        diff = np.abs(ref - got)
        # NaN anywhere is a failure, never a pass.
        max_abs[name] = (
            float("inf") if not np.all(np.isfinite(diff)) else float(diff.max(initial=0))
        )
    return ParityReport(n_images=n_images, max_abs=max_abs, tolerances=tolerances)


def check_parity(
    wrapper: Any,
    model_bytes: bytes,
    images: np.ndarray,
    *,
    score_tol: float = SCORE_TOL,
    recon_tol: float = RECON_TOL,
    map_tol: float = MAP_TOL,
) -> ParityReport:
    """Run both sides on ``images``; raise ParityError when a difference is over its limit."""
    images = np.asarray(images, dtype=np.float32)
    if images.ndim != 4 or images.shape[0] == 0 or images.shape[-1] != 3:
        msg = f"parity images must be a non-empty [N, H, W, 3] batch, got {images.shape}"
        raise ValueError(msg)
    report = compare(
        keras_outputs(wrapper, images),
        onnx_outputs(model_bytes, images),
        score_tol=score_tol,
        recon_tol=recon_tol,
        map_tol=map_tol,
    )
    if not report.passed:
        msg = "parity gate failed, model not written: " + report.describe()
        raise ParityError(msg)
    return report
