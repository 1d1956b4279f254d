"""Feasibility probe for an int8 CPU variant of a model (issue 17); ships nothing.

ONNX Runtime static quantization (QDQ, per-channel int8 weights, uint8
activations) of the autoencoder's Conv/ConvTranspose/MatMul nodes only, the
score head (SSIM and error-map convolutions, reductions) left in float,
calibrated on benign isic9 Train images preprocessed exactly as the app does.
Prints the score correlation with the float model on isic9 Test, both AUROCs,
and the forward pass's CPU ms per image of each. The shipping gate from the
issue: correlation >= 0.999 and |AUROC difference| <= 0.005.

    .venv/bin/python bench/int8_probe.py [--model FILE] [--calibration N] [--out FILE]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from desktop_app.core.base.paths import default_model_path  # noqa: E402
from desktop_app.core.evaluation.labels import BENIGN_CLASSES, is_malignant, normalize_class_name  # noqa: E402
from desktop_app.core.evaluation.metrics import roc_auc  # noqa: E402
from desktop_app.core.imaging.preprocess import preprocess_file  # noqa: E402
from desktop_app.core.model.metadata import OUTPUT_SCORE  # noqa: E402
from desktop_app.core.model.model_file import load_model  # noqa: E402

DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data"
QUANTIZED_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm")
CAE_SCOPE = "dermscreen_cae"


def cae_nodes(model_path: Path, ops: tuple[str, ...] = QUANTIZED_OPS) -> list[str]:
    """Names of the autoencoder's ``ops`` nodes (the score head's are excluded)."""
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    return [n.name for n in graph.node if n.op_type in ops and CAE_SCOPE in n.name]


def quantize(model_path: Path, out_path: Path, calibration: np.ndarray,
             ops: tuple[str, ...] = QUANTIZED_OPS) -> None:
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._batches = iter([{"image": calibration[i : i + 8]}
                                  for i in range(0, len(calibration), 8)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._batches, None)

    quantize_static(
        str(model_path), str(out_path), Reader(),
        quant_format=QuantFormat.QDQ, per_channel=True,
        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
        nodes_to_quantize=cae_nodes(model_path, ops), op_types_to_quantize=list(ops),
    )


def forward_ms(model, batch: np.ndarray, batch_size: int = 16) -> tuple[np.ndarray, float]:
    model.run(batch[:batch_size])  # warm-up
    c0 = time.process_time()
    scores = np.concatenate([model.run(batch[i : i + batch_size])[OUTPUT_SCORE]
                             for i in range(0, len(batch), batch_size)])
    return scores, 1000 * (time.process_time() - c0) / len(batch)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=None)
    parser.add_argument("--calibration", type=int, default=128, help="benign Train images")
    parser.add_argument("--out", type=Path, default=None, help="keep the int8 model here")
    parser.add_argument("--ops", default=",".join(QUANTIZED_OPS),
                        help="op types to quantize (default: %(default)s)")
    args = parser.parse_args(argv)
    model_path = args.model or default_model_path()
    float_model = load_model(model_path, prefer_gpu=False)
    cfg = float_model.metadata.preprocess
    benign = sorted(p for p in (DATA / "isic9" / "Train").glob("*/*.jpg")
                    if normalize_class_name(p.parent.name) in BENIGN_CLASSES)
    step = max(1, len(benign) // args.calibration)
    calib = np.stack([preprocess_file(p, cfg) for p in benign[::step][: args.calibration]])
    test = sorted((DATA / "isic9" / "Test").glob("*/*.jpg"))
    x = np.stack([preprocess_file(p, cfg) for p in test])
    y = np.array([is_malignant(p.parent.name) for p in test])
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "int8.onnx"
        t0 = time.perf_counter()
        ops = tuple(args.ops.split(","))
        quantize(model_path, out, calib, ops)
        took = time.perf_counter() - t0
        int8_model = load_model(out, prefer_gpu=False)
        s_float, ms_float = forward_ms(float_model, x)
        s_int8, ms_int8 = forward_ms(int8_model, x)
        size_mb = out.stat().st_size / 2**20
    corr = float(np.corrcoef(s_float, s_int8)[0, 1])
    auc_f, auc_q = roc_auc(y, s_float), roc_auc(y, s_int8)
    gate = corr >= 0.999 and abs(auc_f - auc_q) <= 0.005
    print(f"{float_model.display_name}: int8 QDQ of {len(cae_nodes(model_path, ops))} CAE nodes "
          f"({','.join(ops)}), "
          f"calibrated on {len(calib)} benign Train images in {took:.0f} s, {size_mb:.1f} MB\n"
          f"  isic9 Test ({len(test)}): score correlation {corr:.5f}, AUROC float {auc_f:.4f} "
          f"int8 {auc_q:.4f} (diff {auc_q - auc_f:+.4f}); gate {'PASSED' if gate else 'FAILED'}\n"
          f"  forward CPU ms/img: float {ms_float:.1f}, int8 {ms_int8:.1f} "
          f"({ms_float / ms_int8:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
