"""A tiny hand-built ONNX graph with DermScreen's model contract, for model-file tests.

Identity reconstruction (score 0 for every image), the contract's input and
output names and shapes, and whatever ``metadata_props`` a test gives it: a
real model file ONNX Runtime loads in milliseconds, so every way metadata can
be wrong is tested on a real file without exporting a network each time.
"""

from __future__ import annotations

from pathlib import Path

import onnx
from onnx import TensorProto, helper

from desktop_app.core.model.metadata import OUTPUT_NAMES

REPO = Path(__file__).resolve().parents[3]
REFERENCE_MODEL = REPO / "resources" / "models" / "dermscreen-reference.onnx"


def contract_graph(
    props: dict[str, str],
    *,
    size: int = 128,
    input_name: str = "image",
    outputs: tuple[str, ...] = OUTPUT_NAMES,
    extra_inputs: dict[str, int] | None = None,
) -> onnx.ModelProto:
    """A small hand-built graph with the contract's signature (identity reconstruction).

    Each of ``extra_inputs`` (name -> side) is a second image input; the graph then also
    outputs ``probability`` = the mean of the last one (so a test sees what filled it)."""
    nodes = [helper.make_node("Identity", [input_name], ["reconstruction"])]
    nodes.append(helper.make_node("Sub", [input_name, "reconstruction"], ["diff"]))
    nodes.append(helper.make_node("Mul", ["diff", "diff"], ["sq"]))
    nodes.append(helper.make_node("ReduceMean", ["sq", "axis_c"], ["error_map"], keepdims=0))
    nodes.append(helper.make_node("ReduceMean", ["sq", "axes_img"], ["score"], keepdims=0))
    inits = [
        helper.make_tensor("axis_c", TensorProto.INT64, [1], [3]),
        helper.make_tensor("axes_img", TensorProto.INT64, [3], [1, 2, 3]),
    ]
    shapes = {
        "reconstruction": ["N", size, size, 3],
        "error_map": ["N", size, size],
        "score": ["N"],
        "probability": ["N"],
    }
    graph_inputs = [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["N", size, size, 3])]
    for name, side in (extra_inputs or {}).items():
        graph_inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT,
                                                          ["N", side, side, 3]))
        nodes.append(helper.make_node("ReduceMean", [name, "axes_img"], ["probability"],
                                      keepdims=0))
    if extra_inputs:
        outputs = (*outputs, "probability")
    graph = helper.make_graph(
        nodes,
        "contract",
        graph_inputs,
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shapes[n]) for n in outputs],
        initializer=inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    for key, value in props.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model




def reference_props() -> dict[str, str]:
    """The shipped reference model's metadata (read without the onnx package's full load)."""
    from desktop_app.core.model.model_file import read_metadata_props

    return read_metadata_props(REFERENCE_MODEL)


def save_contract_model(path: Path, props: dict[str, str], *, sidecar: bool = True,
                        extra_inputs: dict[str, int] | None = None) -> Path:
    """``contract_graph(props)`` written to ``path`` (with a matching ``.sha256`` sidecar)."""
    import hashlib

    from desktop_app.core.base.paths import sidecar_path

    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(contract_graph(props, extra_inputs=extra_inputs), str(path))
    if sidecar:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        sidecar_path(path).write_text(f"{digest}  {path.name}\n", encoding="utf-8")
    return path
