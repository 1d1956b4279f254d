"""`python -m export.validation_points`: the band's point added to a real exported model.

The session's tiny real training run stored its 80/85/90% points from Keras
scores of the 968 Train malignant images; here the same images (the committed
isic9-validation split's cancers) and the isic9 Test images go through the
app's engine, and the step must re-derive those points before it adds 95%.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.base.paths import sidecar_path
from desktop_app.core.evaluation import suite
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.model_file import load_model, read_metadata
from desktop_app.core.model.operating_points import borderline_low, screening_threshold
from export.model_card import card_path
from export.validation_points import (
    PointsMismatchError,
    ScoredImages,
    add_points,
    main,
    score_images,
    stored_targets,
    with_points,
)
from tests.support.data import DATA

pytestmark = pytest.mark.slow  # the engine scores ~1,100 real images per run


def _copy(model: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for src in (model, sidecar_path(model), card_path(model)):
        shutil.copy(src, folder / src.name)
    return folder / model.name


def _before_95(md: ModelMetadata) -> ModelMetadata:
    """``md`` as a model exported before the 95% point existed stores it."""
    ev = {**md.evaluation, "validation_chosen": [
        c for c in md.evaluation["validation_chosen"] if c["target_val_sensitivity"] != 0.95]}
    return replace(md, evaluation=ev, operating_points=[
        {k: v for k, v in p.items() if k != "role"} for p in md.operating_points
        if p["label"] != "validation sensitivity 95%"])


def _graph(path: Path) -> bytes:
    import onnx

    return onnx.load(str(path)).graph.SerializeToString()


def _write_metadata(path: Path, md: ModelMetadata) -> None:
    """Rewrite ``path`` with ``md`` (and a matching sidecar), as an export would."""
    import onnx

    from export.convert import with_metadata, write_model_files

    write_model_files(with_metadata(onnx.load(str(path)).SerializeToString(), md), path)


@pytest.fixture(scope="module")
def images(small_model_path: Path) -> ScoredImages:
    """The validation cancers and Test images scored once through the app's engine."""
    scorer, _ = suite.engine_scorer(small_model_path)
    return score_images(scorer, DATA, progress=lambda _m: None)


@pytest.fixture(scope="module")
def replay(images: ScoredImages) -> suite.Scorer:
    """A scorer answering with the engine's scores above (same graph, no second run)."""
    from desktop_app.core.evaluation.splits import ISIC9_TEST, ISIC9_VALIDATION, split_samples

    val = [s.path for s in split_samples(ISIC9_VALIDATION, DATA) if s.is_malignant]
    test = [s.path for s in split_samples(ISIC9_TEST, DATA)]
    known = dict(zip(val + test, [*images.val_malignant, *images.test_scores], strict=True))
    return lambda paths: [float(known[Path(p)]) for p in paths]


def test_engine_scores_reproduce_the_stored_points_and_add_the_band(
    small_model_path: Path, images: ScoredImages
) -> None:
    md = read_metadata(small_model_path)
    assert sorted(stored_targets(md)) == [0.8, 0.85, 0.9, 0.95]  # training now stores 95% too
    # As a model exported before 95% existed: drop that point, then let the step add it back.
    old = _before_95(md)
    assert borderline_low(old) is None or borderline_low(old) >= screening_threshold(old)
    new, record = with_points(old, images)
    assert record["added"] == [0.95]
    assert [c["target"] for c in record["checked"]] == [0.8, 0.85, 0.9]
    assert all(c["relative_gap"] <= 1e-5 for c in record["checked"])
    trained = stored_targets(md)[0.95]
    added = stored_targets(new)[0.95]
    # The engine's 95% point is the one training chose from Keras scores.
    assert added["threshold"] == pytest.approx(trained["threshold"], rel=1e-5)
    for key in ("val_sensitivity", "val_specificity", "test_sensitivity", "test_specificity"):
        assert added[key] == pytest.approx(trained[key]), key
    assert added["val_sensitivity"] >= 0.95
    assert added["role"] == "borderline" and stored_targets(new)[0.9]["role"] == "screening"
    assert borderline_low(new) == added["threshold"] < screening_threshold(new)
    chosen = [c["target_val_sensitivity"] for c in new.evaluation["validation_chosen"]]
    assert chosen == [0.8, 0.85, 0.9, 0.95]
    row = new.evaluation["validation_chosen"][-1]
    assert row["test"] == md.evaluation["validation_chosen"][-1]["test"]  # CIs as training's


def test_a_tampered_stored_point_is_refused(small_model_path: Path, images: ScoredImages,
                                            replay: suite.Scorer, tmp_path: Path) -> None:
    md = read_metadata(small_model_path)
    points = [dict(p) for p in md.operating_points if p["label"] != "validation sensitivity 95%"]
    t85 = next(p for p in points if p["label"] == "validation sensitivity 85%")
    t85["threshold"] *= 1 + 1e-4  # ten times the tolerance
    tampered = replace(md, operating_points=points)
    with pytest.raises(PointsMismatchError, match="validation sensitivity 85%"):
        with_points(tampered, images)
    # Through the file: refused, and the model, its sidecar and card stay as they were.
    model = _copy(small_model_path, tmp_path / "tampered")
    _write_metadata(model, tampered)
    before = {p: p.read_bytes() for p in (model, sidecar_path(model), card_path(model))}
    with pytest.raises(PointsMismatchError):
        add_points(model, DATA, scorer=replay, progress=lambda _m: None)
    assert {p: p.read_bytes() for p in before} == before


def test_shifted_scores_are_refused(small_model_path: Path, images: ScoredImages) -> None:
    """Scores from another preprocessing (here 0.1% higher) cannot pass as the model's."""
    md = read_metadata(small_model_path)
    shifted = replace(images, val_malignant=images.val_malignant * 1.001)
    with pytest.raises(PointsMismatchError, match="re-derived"):
        with_points(md, shifted)


def test_cli_rewrites_metadata_only(small_model_path: Path, replay: suite.Scorer,
                                    tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = _copy(small_model_path, tmp_path / "m")
    md = read_metadata(model)
    _write_metadata(model, _before_95(md))
    graph = _graph(model)
    assert main([str(model), "--data", str(DATA)]) == 0  # the real engine, end to end
    out = capsys.readouterr().out
    assert "checked 90%" in out and "added 95%" in out
    assert _graph(model) == graph  # the graph that passed the parity gate, unchanged
    loaded = load_model(model, prefer_gpu=False)  # the new sidecar matches the new bytes
    assert loaded.sha256 in sidecar_path(model).read_text(encoding="utf-8")
    new = loaded.metadata
    assert stored_targets(new)[0.95]["threshold"] == pytest.approx(
        stored_targets(md)[0.95]["threshold"], rel=1e-5)
    assert new.extra["validation_points"]["added"] == [0.95]
    assert new.extra["parity"] == md.extra["parity"]  # everything else kept
    assert new.benign_stats == md.benign_stats and new.threshold == md.threshold
    card = card_path(model).read_text(encoding="utf-8")
    assert loaded.sha256 in card and "| validation sensitivity 95% |" in card
    assert "Borderline band" in card and "Added after export" in card
    # Again: everything is there, checked, nothing written.
    data = model.read_bytes()
    digest, record = add_points(model, DATA, scorer=replay, progress=lambda _m: None)
    assert record["added"] == [] and len(record["checked"]) == 4
    assert model.read_bytes() == data and digest == loaded.sha256


def test_cli_refuses_a_model_without_validation_points(small_model_path: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    model = _copy(small_model_path, tmp_path / "bare")
    md = read_metadata(model)
    _write_metadata(model, replace(md, operating_points=[
        p for p in md.operating_points if not p["label"].startswith("validation")]))
    assert main([str(model), "--data", str(DATA)]) == 3
    assert "refused" in capsys.readouterr().err
    sidecar_path(model).write_text("0" * 64 + "  x.onnx\n", encoding="utf-8")
    assert main([str(model), "--data", str(DATA)]) == 2  # a changed file is no exported graph


def test_scores_of_every_validation_cancer_are_finite(images: ScoredImages) -> None:
    assert images.val_malignant.size > 900 and np.all(np.isfinite(images.val_malignant))
    assert images.test_scores.size == 118 and int(images.test_malignant.sum()) == 64
