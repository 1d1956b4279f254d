"""The CAE's architecture as the issue specifies it."""

from __future__ import annotations

import numpy as np
import pytest

from training.model import build_cae


@pytest.fixture(scope="module")
def cae():
    return build_cae()


def test_input_output_and_names(cae) -> None:
    assert cae.inputs[0].name == "image"
    assert tuple(cae.input_shape) == (None, 128, 128, 3)
    assert tuple(cae.output_shape) == (None, 128, 128, 3)
    bottleneck = cae.get_layer("bottleneck")
    assert bottleneck.units == 128
    assert bottleneck.activity_regularizer is not None
    assert bottleneck.activity_regularizer.get_config()["l1"] == pytest.approx(1e-7)


def test_encoder_and_decoder_blocks(cae) -> None:
    convs = [layer for layer in cae.layers if layer.name.startswith("enc_conv")]
    assert [c.filters for c in convs] == [32, 64, 128]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert cae.get_layer("flatten").output.shape[-1] == 16 * 16 * 128
    assert cae.get_layer("dec_dense").units == 16 * 16 * 128
    deconvs = [layer for layer in cae.layers if layer.name.startswith("dec_deconv")]
    assert [d.filters for d in deconvs] == [128, 64, 32]
    assert all(d.strides == (2, 2) for d in deconvs)
    assert cae.layers[-1].get_config()["activation"] == "sigmoid"


def test_output_is_in_unit_range(cae) -> None:
    x = np.random.default_rng(0).random((2, 128, 128, 3), dtype=np.float32)
    out = cae(x, training=False).numpy()
    assert out.shape == x.shape
    assert out.min() >= 0.0
    assert out.max() <= 1.0


def test_other_sizes_and_bad_size() -> None:
    small = build_cae(size=64, latent_dim=16, filters=(8, 16), l1=0.0)
    assert tuple(small.output_shape) == (None, 64, 64, 3)
    assert small.get_layer("bottleneck").activity_regularizer is None
    with pytest.raises(ValueError, match="divisible"):
        build_cae(size=100)
