"""Issue 13 item 4: the VAE (Lu & Xu 2018) trains, exports through the parity gate and scores
deterministically."""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
import onnx
import pytest

from desktop_app.core.imaging.preprocess import preprocess_file
from desktop_app.core.model.model_file import load_model
from export.model_card import card_path
from tests.support.model_fixtures import export_small_model
from tests.support.training_fixtures import train_small_run
from training.fit import FitConfig
from training.model import Sampling, build_vae
from training.run import load_keras_model, load_run
from training.score_variants import CodeModel, VaeKL, variants


def test_sampling_is_the_mean_at_inference_and_adds_the_kl_while_training() -> None:
    rng = np.random.default_rng(0)
    mu = rng.normal(size=(4, 8)).astype(np.float32)
    logvar = rng.normal(scale=0.3, size=(4, 8)).astype(np.float32)
    layer = Sampling(kl_weight=0.5)
    assert np.array_equal(np.asarray(layer([mu, logvar], training=False)), mu)
    assert not layer.losses
    drawn = np.asarray(layer([mu, logvar], training=True))
    assert drawn.shape == mu.shape and not np.allclose(drawn, mu)
    kl = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
    assert float(layer.losses[-1]) == pytest.approx(0.5 * kl.mean(), rel=1e-5)


def test_the_vae_has_the_cae_interface() -> None:
    model = build_vae(size=32, latent_dim=4, filters=(4, 8))
    x = np.random.default_rng(1).uniform(size=(2, 32, 32, 3)).astype(np.float32)
    out = np.asarray(model(x, training=False))
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1
    assert np.array_equal(out, np.asarray(model(x, training=False)))  # deterministic
    assert model.get_layer("bottleneck").units == 4
    with pytest.raises(ValueError, match="kl-weight"):
        FitConfig(data_dir=Path("x"), out_dir=Path("y"), kl_weight=1.0).validate()


def test_a_real_vae_run_exports_and_scores_deterministically(
    tmp_path: Path, isic9_sample_dir: Path, isic9_test_files: list[Path], small_run_dir: Path
) -> None:
    run = train_small_run(tmp_path / "run", isic9_sample_dir, limit=8, epochs=2,
                          variational=True, n_resamples=50)
    info = load_run(run)
    assert info.config["variational"] is True
    assert isinstance(load_keras_model(run).get_layer("sampling"), Sampling)  # saved and reloaded
    model_path = export_small_model(run, tmp_path / "vae.onnx")  # real tf2onnx + parity gate
    graph = onnx.load(str(model_path))
    assert not {n.op_type for n in graph.graph.node} & {"RandomNormal", "RandomNormalLike"}
    model = load_model(model_path, prefer_gpu=False)
    assert model.metadata.extra["architecture"]["variational"] is True
    batch = np.stack([preprocess_file(p, model.metadata.preprocess) for p in isic9_test_files[:4]])
    first, again = model.run(batch)["score"], model.run(batch)["score"]
    assert np.array_equal(first, again)
    assert "variational autoencoder" in card_path(model_path).read_text(encoding="utf-8")
    # score-variants reads the VAE's code (the posterior mean) from the same graph.
    arrays = CodeModel(model_path).arrays(isic9_test_files[:4])
    assert arrays["code"].shape == (4, 128)
    assert np.allclose(arrays["score"], first, atol=1e-6)
    # The KL-based rows (issue 13 item 4) come from the run's Keras encoder.
    vae = VaeKL(run)
    kl = vae.kl(isic9_test_files[:4], model.metadata.preprocess)
    assert kl.shape == (4,) and np.all(kl >= 0.0)  # a KL divergence is never negative
    assert vae.kl_weight == pytest.approx(1.0 / (128 * 128 * 3))
    rows = variants({**arrays, "kl": kl}, arrays["code"], vae.kl_weight)
    assert np.array_equal(rows["KL divergence"], kl)
    assert np.allclose(rows["score + kl_weight x KL (negative ELBO)"], first + vae.kl_weight * kl)
    with pytest.raises(ValueError, match="not a VAE run"):
        VaeKL(small_run_dir)
    keras.backend.clear_session()
