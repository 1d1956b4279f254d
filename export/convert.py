"""Keras -> ONNX: one fp32 graph image -> (reconstruction, error_map, score).

The score and error map in the graph come from the model code's head
(``training.scorer``: ``training.losses.hybrid_score`` and ``error_map``
themselves), so the app scores exactly as training did. :func:`export_model` converts any Keras wrapper with the contract's input
and outputs, checks parity against it on real images, and only then writes the
model (with its metadata) and its ``.sha256`` sidecar, atomically.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from desktop_app.core.base.files import write_bytes_atomic
from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.model.metadata import (
    INPUT_NAME,
    OUTPUT_NAMES,
    ModelMetadata,
)
from export.parity import MAP_TOL, RECON_TOL, SCORE_TOL, ParityReport, check_parity
from training.scorer import clear_activity_regularizers

# Opset 17 holds every op this graph needs (Conv, ConvTranspose, Pad reflect,
# ReduceMean) and is supported by every ONNX Runtime release of recent years.
OPSET = 17
BATCH_DIM = "N"


def _input_size(wrapper: keras.Model) -> int:
    shape = wrapper.input_shape
    if isinstance(shape, list):
        if len(shape) != 1:
            msg = f"the wrapper must have exactly one input ({INPUT_NAME!r}), it has {len(shape)}"
            raise ValueError(msg)
        shape = shape[0]
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or shape[1] is None:
        msg = f"the wrapper's input must be [N, S, S, 3], got {shape}"
        raise ValueError(msg)
    return int(shape[1])


def convert_to_onnx(wrapper: keras.Model, *, opset: int = OPSET) -> Any:
    """tf2onnx ``from_keras`` -> onnx.ModelProto with contract names and a dynamic batch ``N``.

    Raises ValueError when the converted graph lacks the contract's names.
    """
    import tf2onnx

    clear_activity_regularizers(wrapper)
    size = _input_size(wrapper)
    spec = [tf.TensorSpec([None, size, size, 3], tf.float32, name=INPUT_NAME)]
    proto, _ = tf2onnx.convert.from_keras(wrapper, input_signature=spec, opset=opset)
    graph = proto.graph
    inputs = [i.name for i in graph.input]
    if inputs != [INPUT_NAME]:
        msg = f"converted graph has inputs {inputs}, expected [{INPUT_NAME!r}]"
        raise ValueError(msg)
    outputs = [o.name for o in graph.output]
    if sorted(outputs) != sorted(OUTPUT_NAMES):
        msg = f"converted graph has outputs {outputs}, expected {list(OUTPUT_NAMES)}"
        raise ValueError(msg)
    for value in [*graph.input, *graph.output]:
        dim0 = value.type.tensor_type.shape.dim[0]
        dim0.ClearField("dim_value")
        dim0.dim_param = BATCH_DIM
    return proto


def set_metadata(proto: Any, metadata: ModelMetadata) -> None:
    """Replace the model's metadata_props with ``metadata.to_props()``."""
    del proto.metadata_props[:]
    for key, value in sorted(metadata.to_props().items()):
        entry = proto.metadata_props.add()
        entry.key = key
        entry.value = value


def with_metadata(model_bytes: bytes, metadata: ModelMetadata) -> bytes:
    """The same serialized graph with its metadata_props replaced (weights untouched)."""
    import onnx

    proto = onnx.load_model_from_string(model_bytes)
    set_metadata(proto, metadata)
    return proto.SerializeToString()


def write_model_files(model_bytes: bytes, out_path: Path) -> str:
    """Write ``MODEL.onnx`` and ``MODEL.onnx.sha256`` (sha256sum format), each atomically."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(model_bytes).hexdigest()
    write_bytes_atomic(out_path, model_bytes)
    write_bytes_atomic(sidecar_path(out_path), f"{digest}  {out_path.name}\n".encode())
    return digest


def build_onnx(
    wrapper: keras.Model,
    metadata: ModelMetadata,
    parity_images: np.ndarray,
    *,
    score_tol: float = SCORE_TOL,
    recon_tol: float = RECON_TOL,
    map_tol: float = MAP_TOL,
    opset: int = OPSET,
) -> tuple[bytes, ParityReport]:
    """Convert ``wrapper``, embed ``metadata`` and pass the parity gate; nothing is written.

    Raises :class:`export.parity.ParityError` when ONNX Runtime and Keras disagree.
    """
    size = _input_size(wrapper)
    if metadata.preprocess.size != size:
        msg = f"metadata preprocessing size {metadata.preprocess.size} != model input size {size}"
        raise ValueError(msg)
    proto = convert_to_onnx(wrapper, opset=opset)
    set_metadata(proto, metadata)
    model_bytes = proto.SerializeToString()
    report = check_parity(
        wrapper,
        model_bytes,
        parity_images,
        score_tol=score_tol,
        recon_tol=recon_tol,
        map_tol=map_tol,
    )
    return model_bytes, report


def export_model(
    wrapper: keras.Model,
    metadata: ModelMetadata,
    out_path: Path,
    parity_images: np.ndarray,
    *,
    score_tol: float = SCORE_TOL,
    recon_tol: float = RECON_TOL,
    map_tol: float = MAP_TOL,
    opset: int = OPSET,
) -> Path:
    """Convert ``wrapper``, gate on parity, embed ``metadata``, write file + sha256.

    ``wrapper`` is any Keras model with input ``image`` [N, S, S, 3] and the
    outputs ``reconstruction``, ``error_map`` and ``score``. Nothing is written
    when conversion or the parity gate fails (:class:`export.parity.ParityError`).
    """
    model_bytes, _ = build_onnx(
        wrapper,
        metadata,
        parity_images,
        score_tol=score_tol,
        recon_tol=recon_tol,
        map_tol=map_tol,
        opset=opset,
    )
    out_path = Path(out_path)
    write_model_files(model_bytes, out_path)
    return out_path
