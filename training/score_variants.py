"""`dermscreen-train score-variants MODEL.onnx`: other scores from the same model, on the suite's sets.

Issue 13 asks for a lesion-weighted score (error inside the lesion against
around it) and a score in the model's own feature space (distance of the
bottleneck code to the benign training codes) as ablation rows. Both need no
retraining: this runs the exported graph with its bottleneck as an extra
output on the benign training pool (the code bank) and on every suite set,
derives each variant (for a VAE also the code's squared norm, the mean term
of its KL divergence from the prior; with the VAE's run folder the whole KL
divergence and the negative-ELBO score, reconstruction score + kl_weight x KL,
the quantity the VAE was trained to minimise), and reports AUROC with 95% CIs per set. Validation
chooses; the evaluation sets only report. A variant would ship only after
winning on validation, with its arithmetic moved inside the ONNX graph.

Lesion mask (a simple, documented rule, not a segmentation model): Otsu on
the grey image inside the field of view (pixels brighter than 20/255), dark
side, opened with a 5x5 square, the largest component weighted towards the
centre; when it covers under 2% or over 90% of the image the field of view is used.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.files import write_text_atomic
from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.suite import EVALUATION_SETS, POOLED, VALIDATION, suite_samples

FOV_MIN_GREY = 20  # 0-255: darker pixels are the dermoscope's vignette
KNN_K = 5
GREY = np.array([0.299, 0.587, 0.114], np.float32)
Progress = Callable[[str], None]


def bank_paths(data_root: Path) -> list[Path]:
    """The benign training pool of the bigger-pool recipe: isic9 audited benign Train images
    outside the committed validation list, plus the ham-extra training nevi."""
    from desktop_app.core.evaluation.splits import (
        HAM_TRAIN,
        ISIC9_VALIDATION,
        read_split,
        split_samples,
    )
    from training.data import audit_dataset

    held_out = {Path(e.rel_path).name for e in read_split(ISIC9_VALIDATION)}
    isic = [s.path for s in audit_dataset(data_root / "isic9").benign_train()
            if s.path.name not in held_out]
    ham = [s.path for s in split_samples(HAM_TRAIN, data_root, split="Train") if s.label == "benign"]
    return isic + ham


class CodeModel:
    """The exported graph with the bottleneck code as a fourth output."""

    def __init__(self, model_path: Path) -> None:
        import onnx
        import onnxruntime as ort

        from desktop_app.core.model.model_file import load_model

        self.meta = load_model(model_path).metadata  # validates the file first
        graph = onnx.load(str(model_path))
        # The bottleneck layer's last node: its ReLU (CAE) or its bias add (a VAE's mean).
        nodes = [n for n in graph.graph.node if "/bottleneck" in n.name]
        if not nodes:
            msg = f"{model_path}: no bottleneck layer in the graph"
            raise ValueError(msg)
        self.code_name = nodes[-1].output[0]
        graph.graph.output.append(
            onnx.helper.make_tensor_value_info(self.code_name, onnx.TensorProto.FLOAT, None))
        options = ort.SessionOptions()
        self.session = ort.InferenceSession(graph.SerializeToString(), options,
                                            providers=["CPUExecutionProvider"])

    def arrays(self, paths: list[Path], batch: int = 32) -> dict[str, np.ndarray]:
        """score [N], error map [N, H, W], code [N, D], grey input [N, H, W] of ``paths``."""
        from training.cache import load_tensors

        x = load_tensors(paths, self.meta.preprocess)
        out: dict[str, list[np.ndarray]] = {"score": [], "err": [], "code": [], "grey": []}
        for i in range(0, len(x), batch):
            chunk = x[i:i + batch]
            err, score, code = self.session.run(["error_map", "score", self.code_name],
                                                {"image": chunk})
            out["score"].append(score.astype(np.float64))
            out["err"].append(err)
            out["code"].append(code)
            out["grey"].append(chunk @ GREY)
        return {k: np.concatenate(v) for k, v in out.items()}


class VaeKL:
    """KL divergence of a trained VAE's posterior N(mu, exp(logvar)) from N(0, I), per image.

    The exported graph scores from the code's mean only (its log-variance is pruned),
    so the KL comes from the run folder's Keras encoder, on the same cached tensors.
    """

    def __init__(self, run_dir: Path) -> None:
        import keras

        from training.model import BOTTLENECK_NAME, LOGVAR_NAME
        from training.run import load_keras_model, load_run

        info = load_run(run_dir)
        if not info.config.get("variational"):
            msg = f"{run_dir}: not a VAE run (fit --variational)"
            raise ValueError(msg)
        model = load_keras_model(run_dir)
        self.kl_weight = float(model.get_layer("sampling").kl_weight)
        self.encoder = keras.Model(model.input, [model.get_layer(BOTTLENECK_NAME).output,
                                                 model.get_layer(LOGVAR_NAME).output])

    def kl(self, paths: list[Path], preprocess: Any) -> np.ndarray:
        """[N] KL divergence (nats) of the images at ``paths`` (cached tensors)."""
        from training.cache import load_tensors

        x = load_tensors(paths, preprocess)
        mu, logvar = (np.asarray(a, np.float64) for a in self.encoder.predict(x, batch_size=32, verbose=0))
        return -0.5 * np.sum(1.0 + logvar - mu**2 - np.exp(logvar), axis=1)


def lesion_masks(grey: np.ndarray) -> np.ndarray:
    """[N, H, W] bool: the lesion by the module's rule (see the docstring)."""
    import cv2

    out = np.zeros(grey.shape, bool)
    h, w = grey.shape[1:]
    for i, g in enumerate(grey):
        u = np.clip(g * 255.0, 0, 255).astype(np.uint8)
        fov = u > FOV_MIN_GREY
        if fov.sum() < 100:
            out[i] = True
            continue
        t, _ = cv2.threshold(u[fov], 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        dark = cv2.morphologyEx(((u < t) & fov).astype(np.uint8), cv2.MORPH_OPEN,
                                np.ones((5, 5), np.uint8))
        n, labels, stats, centres = cv2.connectedComponentsWithStats(dark)
        if n <= 1:
            out[i] = fov
            continue
        off_centre = np.hypot(centres[1:, 0] - w / 2, centres[1:, 1] - h / 2)
        best = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA] / (1.0 + off_centre / (w / 4))))
        mask = labels == best
        out[i] = mask if 0.02 <= mask.mean() <= 0.9 else fov
    return out


def knn_distance(codes: np.ndarray, bank: np.ndarray, k: int = KNN_K) -> np.ndarray:
    """Mean Euclidean distance of each code to its ``k`` nearest bank codes."""
    c, b = codes.astype(np.float64), bank.astype(np.float64)
    d2 = (c**2).sum(1)[:, None] + (b**2).sum(1)[None, :] - 2.0 * c @ b.T
    return np.sqrt(np.sort(np.maximum(d2, 0.0), axis=1)[:, :k]).mean(axis=1)


def variants(arrays: dict[str, np.ndarray], bank_codes: np.ndarray,
             kl_weight: float | None = None) -> dict[str, np.ndarray]:
    """Every candidate score of one set (higher = more anomalous).

    With ``arrays["kl"]`` (a VAE's KL per image) and its training ``kl_weight``,
    also the KL alone and the negative-ELBO score.
    """
    err, grey = arrays["err"].astype(np.float64), arrays["grey"]
    lesion = lesion_masks(grey)
    fov = grey * 255.0 > FOV_MIN_GREY
    around = fov & ~lesion

    def mean_in(mask: np.ndarray) -> np.ndarray:
        return (err * mask).sum((1, 2)) / np.maximum(mask.sum((1, 2)), 1)

    inside = mean_in(lesion)
    out = {
        "score (the model's)": arrays["score"],
        "lesion mean error": inside,
        "lesion minus surround": inside - mean_in(around),
        "field-of-view mean error": mean_in(fov),
        f"code {KNN_K}-NN distance": knn_distance(arrays["code"], bank_codes),
        # For a VAE the code is the posterior mean: its squared norm is the mean term of the
        # KL divergence from the N(0, I) prior (the log-variance is not in the exported graph).
        "code squared norm": np.sum(arrays["code"].astype(np.float64) ** 2, axis=1),
    }
    if "kl" in arrays and kl_weight is not None:
        out["KL divergence"] = arrays["kl"]
        out["score + kl_weight x KL (negative ELBO)"] = arrays["score"] + kl_weight * arrays["kl"]
    return out


def _zsum(a: dict[str, np.ndarray], ref: dict[str, np.ndarray], keys: tuple[str, str]) -> np.ndarray:
    return sum((a[k] - ref[k].mean()) / ref[k].std() for k in keys)


COMBINATIONS = (("score (the model's)", "lesion mean error"),
                ("score (the model's)", f"code {KNN_K}-NN distance"))


def run_variants(model_path: Path, data_root: Path, n_resamples: int = 1000,
                 progress: Progress = print, limit: int | None = None,
                 vae_run: Path | None = None) -> dict[str, Any]:
    """AUROC [95% CI] and melanoma-vs-nevus AUROC of every variant on every suite set.

    ``vae_run``: the VAE's run folder (the model file must be its export), adding the
    KL-based rows.
    """
    model = CodeModel(model_path)
    vae = None if vae_run is None else VaeKL(vae_run)
    bank = bank_paths(data_root)
    if limit is not None:
        bank = bank[:limit]
    progress(f"code bank: {len(bank)} benign training images")
    bank_codes = model.arrays(bank)["code"]
    sets = suite_samples(data_root, limit=limit)
    scored: dict[str, dict[str, np.ndarray]] = {}
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, samples in sets.items():
        progress(f"{name}: {len(samples)} images")
        paths = [s.path for s in samples]
        arrays = model.arrays(paths)
        if vae is not None:
            arrays["kl"] = vae.kl(paths, model.meta.preprocess)
        scored[name] = variants(arrays, bank_codes, None if vae is None else vae.kl_weight)
        labels[name] = (np.array([s.is_malignant for s in samples], bool),
                        np.array([s.cls for s in samples]))
    ref = {k: v[~labels[VALIDATION][0]] for k, v in scored[VALIDATION].items()}
    for a, b in COMBINATIONS:
        for name in scored:
            scored[name][f"z({a}) + z({b})"] = _zsum(scored[name], ref, (a, b))
    pooled = [n for n in EVALUATION_SETS if n in scored]
    labels[POOLED] = (np.concatenate([labels[n][0] for n in pooled]),
                      np.concatenate([labels[n][1] for n in pooled]))
    scored[POOLED] = {k: np.concatenate([scored[n][k] for n in pooled]) for k in scored[VALIDATION]}
    rows = []
    for key in scored[VALIDATION]:
        row: dict[str, Any] = {"variant": key}
        for name, (y, cls) in labels.items():
            s = scored[name][key]
            row[name] = {"value": metrics.roc_auc(y, s),
                         "ci95": list(metrics.bootstrap_ci(y, s, metrics.roc_auc, n_resamples))}
            mel_nev = (cls == "melanoma") | (cls == "nevus")
            if (cls == "melanoma").any() and (cls == "nevus").any():
                row[f"{name} melanoma vs nevus"] = metrics.roc_auc(cls[mel_nev] == "melanoma",
                                                                   s[mel_nev])
        rows.append(row)
    best = max(rows, key=lambda r: r[VALIDATION]["value"])
    return {"model": model.meta.model_name + " " + model.meta.model_version,
            "bank_size": len(bank), "n_resamples": n_resamples, "rows": rows,
            "chosen_on_validation": best["variant"], "lesion_rule": __doc__.split("Lesion mask")[1]}


def format_variants(report: dict[str, Any]) -> str:
    """Markdown table: AUROC [95% CI] per set, melanoma vs nevus on the pooled sets."""
    sets = [VALIDATION, *EVALUATION_SETS, POOLED]
    head = ["Variant", *(f"{s} AUROC" for s in sets), "pooled mel vs nevus"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in report["rows"]:
        cells = [row["variant"]]
        for s in sets:
            d = row.get(s) or {}
            ci = d.get("ci95") or [float("nan")] * 2
            cells.append(f"{d.get('value', float('nan')):.3f} [{ci[0]:.3f}, {ci[1]:.3f}]")
        cells.append(f"{row.get(f'{POOLED} melanoma vs nevus', float('nan')):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    lines.append(f"Chosen on validation: {report['chosen_on_validation']} "
                 f"(code bank: {report['bank_size']} benign training images; "
                 f"{report['n_resamples']} bootstrap resamples).")
    return "\n".join(lines) + "\n"


def write_variants(report: dict[str, Any], out: Path) -> None:
    write_text_atomic(out.with_suffix(".json"), json.dumps(report, indent=1, default=float))
    write_text_atomic(out.with_suffix(".md"), format_variants(report))
