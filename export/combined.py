"""One ONNX file that holds both detectors (issue 27): the benign-only CAE and a labelled classifier.

The CAE part is the shipped CAE model's graph as it is (its parity gate passed at its own
export); its ``score`` is renamed ``anomaly_score``. The classifier (Lite0 + linear head,
Keras) is converted with tf2onnx and gated on parity against Keras; its nodes join the
same graph on the same ``image`` input. New nodes compute::

    probability   = sigmoid(classifier logit)
    score         = sigmoid(a * logit + b * (anomaly_score - mu) / sd + c)
    evidence_map  = the classifier's class activation map, [N, size, size], in logit units

The ratio b/a (in standard units) is chosen leave-one-site-out on validation: a head
trained without one site scores that site's validation images, as it would a site it
never saw, and the ratio with the best worst-site AUROC wins
(:func:`export.build_combined.choose_ratio`); ``a, b, c`` then only calibrate that
direction on the validation images (never the evaluation sets), so ``score`` is a
probability on the validation mix. The CAM needs no extra
graph: with global-average pooling and a linear head, the logit is the mean of a 1x1
convolution of each tapped block's map (plus the bias), so the map is that convolution,
upsampled to the input size and summed over the taps (its mean equals logit - bias up
to the resampling).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from desktop_app.core.model.metadata import (
    INPUT_NAME,
    OUTPUT_ANOMALY_SCORE,
    OUTPUT_EVIDENCE_MAP,
    OUTPUT_PROBABILITY,
    OUTPUT_SCORE,
)

CLF_LOGIT = "classifier_logit"
CLF_PREFIX = "clf/"
LOGIT_TOL = 1e-3  # logits of ~|5|; fp32 Keras vs ONNX Runtime through 16 blocks
EVIDENCE_TOL = 5e-3


@dataclass(frozen=True)
class Combiner:
    """score = sigmoid(a * logit + b * z + c), z = (anomaly_score - mu) / sd."""

    a: float
    b: float
    c: float
    mu: float
    sd: float

    def combine(self, logit: np.ndarray, anomaly: np.ndarray) -> np.ndarray:
        z = (np.asarray(anomaly, np.float64) - self.mu) / self.sd
        return 1.0 / (1.0 + np.exp(-(self.a * np.asarray(logit, np.float64) + self.b * z + self.c)))

    def to_dict(self) -> dict[str, float]:
        return {"a": self.a, "b": self.b, "c": self.c, "anomaly_mean": self.mu,
                "anomaly_sd": self.sd}


def fit_combiner_at_ratio(logit: np.ndarray, anomaly: np.ndarray, malignant: np.ndarray,
                          ratio: float) -> Combiner:
    """The score along one direction, u = logit / sd(logit) + ratio * z(anomaly), with its
    scale and offset fitted by logistic regression (Platt scaling): ``ratio`` decides the
    ranking, the fit only calibrates it."""
    from sklearn.linear_model import LogisticRegression

    logit = np.asarray(logit, np.float64)
    anomaly = np.asarray(anomaly, np.float64)
    mu, sd = float(anomaly.mean()), float(anomaly.std())
    sd_logit = float(logit.std())
    u = logit / sd_logit + ratio * (anomaly - mu) / sd
    m = LogisticRegression(C=1e6, max_iter=1000).fit(u[:, None], np.asarray(malignant, bool))
    k = float(m.coef_[0][0])
    return Combiner(k / sd_logit, k * ratio, float(m.intercept_[0]), mu, sd)


def classifier_wrapper(classifier, taps: Sequence[int], size: int):
    """Keras: image -> {classifier_logit [N], evidence_map [N, size, size]} from a
    :func:`training.finetune.build_classifier` model (same weights)."""
    import keras
    from keras import layers

    dense = classifier.get_layer("logit")
    kernel, bias = (np.asarray(v) for v in dense.get_weights())
    maps = [classifier.get_layer(f"gap{t}").input for t in taps]
    maps.append(classifier.get_layer("gap_head").input)
    start, cams, means = 0, [], []
    for i, fmap in enumerate(maps):
        ch = int(fmap.shape[-1])
        conv = layers.Conv2D(1, 1, use_bias=False, name=f"cam{i}")
        cam = conv(fmap)
        conv.set_weights([kernel[start:start + ch].reshape(1, 1, ch, 1)])
        start += ch
        means.append(layers.GlobalAveragePooling2D(name=f"cam_mean{i}")(cam))
        cams.append(layers.Resizing(size, size, interpolation="bilinear", name=f"cam_up{i}")(cam))
    logit = layers.Add(name="logit_sum")(means)
    logit = layers.Rescaling(1.0, offset=float(bias[0]), name="logit_bias")(logit)
    logit = layers.Reshape((), name=CLF_LOGIT)(logit)
    evidence = layers.Reshape((size, size), name=OUTPUT_EVIDENCE_MAP)(layers.Add(name="cam_sum")(cams))
    return keras.Model(classifier.input, {CLF_LOGIT: logit, OUTPUT_EVIDENCE_MAP: evidence},
                       name="classifier_export")


def convert_classifier(wrapper, size: int, opset: int) -> Any:
    """tf2onnx of :func:`classifier_wrapper` with a dynamic batch; checks the output names."""
    import tensorflow as tf
    import tf2onnx

    spec = [tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(wrapper, input_signature=spec, opset=opset)
    outputs = sorted(o.name for o in proto.graph.output)
    if outputs != sorted([CLF_LOGIT, OUTPUT_EVIDENCE_MAP]):
        msg = f"converted classifier has outputs {outputs}"
        raise ValueError(msg)
    return proto


def _rename_value(graph: Any, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if n == old else n for n in node.input]
        node.output[:] = [new if n == old else n for n in node.output]
    for value in graph.output:
        if value.name == old:
            value.name = new


def merge(cae: Any, clf: Any, combiner: Combiner, clf_input: str = INPUT_NAME) -> Any:
    """The CAE graph with the classifier's nodes and the combining nodes added (a new proto).

    ``clf_input``: the classifier's input; ``image`` shares the CAE's, another name becomes a
    second graph input (issue 34: ``image_hr``). Without an ``evidence_map`` output in the
    classifier the merged graph has none either (the app hides that view)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    if cae.opset_import[0].version != clf.opset_import[0].version:
        msg = "the CAE and the classifier graphs must use the same opset"
        raise ValueError(msg)
    out = onnx.ModelProto()
    out.CopyFrom(cae)
    g = out.graph
    _rename_value(g, OUTPUT_SCORE, OUTPUT_ANOMALY_SCORE)
    clf = onnx.compose.add_prefix(clf, CLF_PREFIX)
    cg = clf.graph
    _rename_value(cg, CLF_PREFIX + clf_input, clf_input)
    if clf_input != INPUT_NAME:
        for value in cg.input:
            if value.name == CLF_PREFIX + clf_input:
                value.name = clf_input
                g.input.append(value)
    has_evidence = any(o.name == CLF_PREFIX + OUTPUT_EVIDENCE_MAP for o in cg.output)
    g.node.extend(cg.node)
    g.initializer.extend(cg.initializer)
    have = {o.domain for o in out.opset_import}
    out.opset_import.extend(o for o in clf.opset_import if o.domain not in have)

    def const(name: str, value: float) -> None:
        g.initializer.append(numpy_helper.from_array(np.array(value, np.float32), name))

    logit = CLF_PREFIX + CLF_LOGIT
    for name, value in (("a", combiner.a), ("b", combiner.b), ("c", combiner.c),
                        ("mu", combiner.mu), ("sd", combiner.sd)):
        const(f"combine/{name}", value)
    g.node.extend([
        helper.make_node("Sigmoid", [logit], [OUTPUT_PROBABILITY], name="combine/probability"),
        helper.make_node("Sub", [OUTPUT_ANOMALY_SCORE, "combine/mu"], ["combine/centred"]),
        helper.make_node("Div", ["combine/centred", "combine/sd"], ["combine/z"]),
        helper.make_node("Mul", [logit, "combine/a"], ["combine/al"]),
        helper.make_node("Mul", ["combine/z", "combine/b"], ["combine/bz"]),
        helper.make_node("Add", ["combine/al", "combine/bz"], ["combine/sum"]),
        helper.make_node("Add", ["combine/sum", "combine/c"], ["combine/logit"]),
        helper.make_node("Sigmoid", ["combine/logit"], [OUTPUT_SCORE], name="combine/score"),
    ])
    if has_evidence:
        g.node.append(helper.make_node("Identity", [CLF_PREFIX + OUTPUT_EVIDENCE_MAP],
                                       [OUTPUT_EVIDENCE_MAP]))
    n, size = "N", None
    for v in g.output:
        if v.name == "error_map":
            size = v.type.tensor_type.shape.dim[1].dim_value
    g.output.extend([
        helper.make_tensor_value_info(OUTPUT_SCORE, TensorProto.FLOAT, [n]),
        helper.make_tensor_value_info(OUTPUT_PROBABILITY, TensorProto.FLOAT, [n]),
    ])
    if has_evidence:
        g.output.append(helper.make_tensor_value_info(OUTPUT_EVIDENCE_MAP, TensorProto.FLOAT,
                                                      [n, size, size]))
    out.ir_version = max(cae.ir_version, clf.ir_version)
    del out.metadata_props[:]
    onnx.checker.check_model(out)
    return out
