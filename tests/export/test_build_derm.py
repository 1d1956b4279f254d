"""build_derm's pieces that need no Xception: the head appended as ONNX nodes (binary and the
eight diagnoses) gives the head's own logit in ONNX Runtime, and the choice's tie-break."""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

from export.build_derm import HR_INPUT, _rank, with_head
from export.convert import OPSET
from training.derm_head import FeatureHead


def _features_graph(dim: int):
    """A stand-in backbone: image_hr [N, 4, 4, 3] -> mean over pixels, tiled to ``dim``."""
    nodes = [helper.make_node("ReduceMean", [HR_INPUT], ["m"], axes=[1, 2], keepdims=0),
             helper.make_node("Tile", ["m", "reps"], ["features"])]
    inits = [helper.make_tensor("reps", TensorProto.INT64, [2], [1, dim // 3])]
    graph = helper.make_graph(
        nodes, "features", [helper.make_tensor_value_info(HR_INPUT, TensorProto.FLOAT,
                                                          ["N", 4, 4, 3])],
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", dim])], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], ir_version=8)


@pytest.mark.parametrize("classes", [("malignant",),
                                     ("ak", "bcc", "bkl", "df", "mel", "nv", "scc", "vasc")])
def test_appended_head_gives_the_heads_logit(classes: tuple[str, ...]) -> None:
    rng = np.random.default_rng(0)
    dim, k = 6, len(classes)
    head = FeatureHead(mean=rng.normal(size=dim), scale=rng.uniform(0.5, 2, dim),
                       coef=rng.normal(size=(dim, k)), intercept=rng.normal(size=k),
                       classes=classes)
    proto = with_head(_features_graph(dim), head)
    x = rng.uniform(0, 1, (5, 4, 4, 3)).astype(np.float32)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {HR_INPUT: x})[0]
    feats = np.tile(x.mean(axis=(1, 2)), (1, dim // 3)).astype(np.float64)
    np.testing.assert_allclose(got, head.logit(feats), rtol=1e-4, atol=1e-4)


def test_ties_on_the_worst_site_go_to_the_higher_mean() -> None:
    a = {"isic9*": 0.81, "isic2017*": 0.67, "worst": 0.67}
    b = {"isic9*": 0.80, "isic2017*": 0.67, "worst": 0.67}
    c = {"isic9*": 0.95, "isic2017*": 0.66, "worst": 0.66}
    assert _rank(a) > _rank(b) > _rank(c)
