"""The combined model: one ONNX graph with the CAE and a Lite0 classifier, read by the app's
engine through the same contract (outputs by name)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.inference.engine import Engine
from desktop_app.core.model.metadata import (
    OUTPUT_ANOMALY_SCORE,
    OUTPUT_EVIDENCE_MAP,
    OUTPUT_PROBABILITY,
    OUTPUT_SCORE,
    component_label,
)
from desktop_app.core.model.model_file import load_model
from export.combined import CLF_LOGIT, Combiner, classifier_wrapper, convert_classifier, merge
from tests.support.data import ISIC9
from training.finetune import build_classifier
from training.supervised import LinearHead

CAE = bundled_models_dir() / "dermscreen-cae2.onnx"
COMBINED = bundled_models_dir() / "dermscreen-combined.onnx"
TAPS = (4, 7, 10, 14)


@pytest.fixture(scope="module")
def images() -> list[Path]:
    return sorted((ISIC9 / "Test" / "melanoma").glob("*.jpg"))[:3] + sorted(
        (ISIC9 / "Test" / "nevus").glob("*.jpg"))[:3]


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory):
    """A head with seeded random weights, merged with the shipped CAE."""
    rng = np.random.default_rng(3)
    dim = 40 + 80 + 112 + 192 + 1280
    head = LinearHead(rng.random(dim), 1 + rng.random(dim), rng.normal(0, 0.02, dim), -0.3)
    wrapper = classifier_wrapper(build_classifier(head, TAPS), TAPS, 128)
    combiner = Combiner(a=0.9, b=0.4, c=-0.2, mu=0.09, sd=0.03)
    proto = merge(onnx.load(str(CAE)), convert_classifier(wrapper, 128, 17), combiner)
    return wrapper, combiner, proto


def test_merged_graph_keeps_the_cae_and_adds_the_classifier(merged, images) -> None:
    import onnxruntime as ort

    from desktop_app.core.imaging.preprocess import preprocess_file

    wrapper, combiner, proto = merged
    names = [o.name for o in proto.graph.output]
    assert {"reconstruction", "error_map", OUTPUT_SCORE, OUTPUT_ANOMALY_SCORE,
            OUTPUT_PROBABILITY, OUTPUT_EVIDENCE_MAP} == set(names)
    cae = load_model(CAE)
    x = np.stack([preprocess_file(p, cae.metadata.preprocess) for p in images])
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    got = dict(zip(names, sess.run(None, {"image": x}), strict=True))
    # The CAE part is the shipped graph: its score, bit for bit.
    np.testing.assert_array_equal(got[OUTPUT_ANOMALY_SCORE], cae.run(x)[OUTPUT_SCORE])
    ref = wrapper(x, training=False)
    logit = np.asarray(ref[CLF_LOGIT])
    np.testing.assert_allclose(got[OUTPUT_PROBABILITY], 1 / (1 + np.exp(-logit)), atol=1e-5)
    np.testing.assert_allclose(got[OUTPUT_EVIDENCE_MAP], np.asarray(ref[OUTPUT_EVIDENCE_MAP]), atol=5e-3)
    np.testing.assert_allclose(got[OUTPUT_SCORE], combiner.combine(logit, got[OUTPUT_ANOMALY_SCORE]),
                               atol=1e-5)
    # The evidence map is a class activation map: its mean is the logit less the bias.
    bias = float(wrapper.get_layer("logit_bias").offset)
    np.testing.assert_allclose(got[OUTPUT_EVIDENCE_MAP].mean(axis=(1, 2)), logit - bias, atol=2e-3)


def test_shipped_combined_model_through_the_engine(images, tmp_path: Path) -> None:
    model = load_model(COMBINED)
    assert model.verified and model.has_output(OUTPUT_EVIDENCE_MAP)
    md = model.metadata
    assert "labelled classifier" in component_label(md, "classifier")
    assert "benign-only CAE" in component_label(md, "anomaly")
    assert md.extra["components"]["classifier"]["learned_from_labelled_cancers"] is True
    engine = Engine(model, workers=1)
    results = engine.analyze_all(images)
    assert all(r.ok for r in results)
    c = md.extra["combiner"]
    combiner = Combiner(c["a"], c["b"], c["c"], c["anomaly_mean"], c["anomaly_sd"])
    for r in results:
        assert 0 < r.probability < 1 and r.anomaly_score > 0
        logit = np.log(r.probability / (1 - r.probability))
        assert r.score == pytest.approx(float(combiner.combine(logit, r.anomaly_score)), abs=1e-5)
        row = r.to_row()
        assert float(row["classifier_probability"]) == pytest.approx(r.probability, rel=1e-5)
        assert float(row["anomaly_score"]) == pytest.approx(r.anomaly_score, rel=1e-6)
    case = engine.explain(images[0])
    assert case.evidence_map is not None and case.evidence_map.shape == (128, 128)
    assert case.probability == pytest.approx(results[0].probability, abs=1e-6)
    # The same images through the CAE alone: the anomaly part is that model's score.
    cae_scores = [r.score for r in Engine(load_model(CAE), workers=1).analyze_all(images)]
    np.testing.assert_allclose([r.anomaly_score for r in results], cae_scores, rtol=1e-6)


def test_cae_results_have_no_component_columns(images) -> None:
    r = Engine(load_model(CAE), workers=1).analyze_all(images[:1])[0]
    assert r.anomaly_score is None and r.probability is None
    assert r.to_row()["classifier_probability"] == ""
    assert Engine(load_model(CAE), workers=1).explain(images[0]).evidence_map is None


def test_card_says_it_learned_from_labelled_cancers() -> None:
    card = COMBINED.with_suffix(".md").read_text(encoding="utf-8")
    assert "LEARNED FROM LABELLED CANCERS" in card


def test_the_default_is_chosen_by_issue_27s_rule() -> None:
    """Default (unless a later rule, issue 34's in tests/export/test_derm.py, put a derm model
    above it) only when the pooled paired gain over cae2 has a 95% CI above zero and no
    evaluation site is worse beyond noise (its gain's CI wholly below zero)."""
    from desktop_app.core.base.paths import DEFAULT_MODEL_NAME
    from desktop_app.core.evaluation.suite import EVALUATION_SETS

    summary = load_model(COMBINED).metadata.extra["evaluation_suite"]["summary"]
    assert summary["compared_to"] == "dermscreen-cae2"
    pooled_lo = summary["pooled_gain"]["ci95"][0]
    site_hi = [summary[f"{s}_gain"]["ci95"][1] for s in EVALUATION_SETS]
    passes = pooled_lo > 0 and all(hi >= 0 for hi in site_hi)
    if DEFAULT_MODEL_NAME.startswith("dermscreen-derm"):  # issue 34's rule decided (its test)
        assert passes  # a derm model is compared with the combined one, which had to win first
    else:
        assert (COMBINED.name == DEFAULT_MODEL_NAME) == passes
