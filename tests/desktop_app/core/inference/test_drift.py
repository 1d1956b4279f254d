"""The drift alarm on real images through the real engine and the shipped models: silent on the
uda1 full-resolution originals (the training archive's own kind of image), on isic9 Test, on
dev-eval and on any folder under 20 images; fires on a new site's batch (uda1-external, a set
no model trained or tuned on, whose benign scores sit higher) and on colour-shifted real images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, UDA1_EXTERNAL, read_split
from desktop_app.core.imaging.imageio import file_sha256, read_file
from desktop_app.core.imaging.preprocess import decode_bytes_for_model, preprocess_array
from desktop_app.core.inference.drift import (
    MIN_SCORED_FOR_DRIFT,
    STAT_NAMES,
    ImageRanges,
    check_batch,
    image_stats,
    input_check_words,
    reference_ranges,
)
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.model_file import LoadedModel, load_model
from desktop_app.core.model.operating_points import chosen_threshold
from desktop_app.core.site.calibration import drift_of
from desktop_app.core.wording.texts import CSV_COLUMN_DOCS
from tests.support.data import DATA


@pytest.fixture(scope="module")
def combined() -> LoadedModel:
    """The shipped default model (the one a clinician meets first)."""
    return load_model(bundled_models_dir() / "dermscreen-combined.onnx")


@pytest.fixture(scope="module")
def engine(combined: LoadedModel) -> Engine:
    return Engine(combined)


def _report(results: list[AnalysisResult], model: LoadedModel) -> object:
    """The drift report as the window and the CLI make it, at the model's screening point."""
    threshold, _ = chosen_threshold(model.metadata)
    return drift_of(results, model, None, ranges_known=True, threshold=threshold)


@pytest.mark.parametrize("name", ["dermscreen-combined.onnx", "dermscreen-cae2.onnx",
                                  "dermscreen-reference.onnx"])
def test_shipped_models_have_image_ranges(name: str) -> None:
    """The resource entry matches each shipped model file (re-export: rerun export.image_ranges)."""
    path = bundled_models_dir() / name
    ranges = reference_ranges(file_sha256(path))
    assert ranges is not None, f"no image ranges for {name}: python -m export.image_ranges"
    assert ranges.n > 1000 and "validation" in ranges.source
    assert set(ranges.ranges) == set(STAT_NAMES)  # what the model sees: no size, no aspect
    assert reference_ranges("0" * 64) is None


def test_metadata_ranges_win_over_the_resource(combined: LoadedModel) -> None:
    stats = {n: {"p005": 0.0, "p995": 1.0} for n in STAT_NAMES}
    ranges = reference_ranges(combined.sha256, {"image_ranges": {"source": "meta", "stats": stats}})
    assert ranges is not None and ranges.source == "meta"
    with pytest.raises(ValueError, match="finite"):
        ImageRanges.from_dict({"stats": {**stats, "mean_r": {"p005": 2.0, "p995": float("nan")}}})


@pytest.mark.parametrize("name", ["dermscreen-combined.onnx", "dermscreen-cae2.onnx"])
def test_fullres_originals_are_silent(name: str, fullres_files: list[Path]) -> None:
    """The 12 UDA-1 originals (767x576 to 3872x2592, most 4:3): the archive the training images
    were cut from. Preprocessing squashes them to the model's square input as the training
    images were squashed, so neither their size nor their aspect ratio flags them."""
    model = load_model(bundled_models_dir() / name)
    results = Engine(model).analyze_all(fullres_files)
    assert len(results) == 12 and all(r.ok for r in results)
    assert [r.path.name for r in results if r.input_flags] == []
    assert {r.to_row()["input_check"] for r in results} == {""}
    report = _report(results, model)
    assert not report.alarm and report.status == "not checked" and report.words() == ""
    assert "fewer than 20 images" in report.details()


def test_statistics_do_not_depend_on_the_original_size(fullres_files: list[Path],
                                                       tmp_path: Path) -> None:
    """A full-resolution original and a 180x180 squashed copy of it (the isic9 kind of file)
    give nearly the same statistics: they are taken on what the model sees."""
    original = max(fullres_files, key=lambda f: f.stat().st_size)
    bgr = cv2.imread(str(original))
    assert max(bgr.shape[:2]) > 1000  # really a large photograph
    small = tmp_path / "small.png"
    cv2.imwrite(str(small), cv2.resize(bgr, (180, 180), interpolation=cv2.INTER_AREA))

    def stats(path: Path) -> dict[str, float]:
        return image_stats(preprocess_array(decode_bytes_for_model(read_file(path))))

    big, little = stats(original), stats(small)
    for name in ("mean_r", "mean_g", "mean_b"):
        assert abs(big[name] - little[name]) < 3.0, name
    assert abs(big["vignette_share"] - little["vignette_share"]) < 0.02
    assert set(big) == set(STAT_NAMES)
    assert input_check_words(["vignette_share", "mean_b"]) == \
        "dark border, blue outside the training images' range"


def test_isic9_test_stays_silent(engine: Engine, combined: LoadedModel,
                                 isic9_test_files: list[Path]) -> None:
    """isic9 Test holds 54% cancers; its lower quartile still sits near the benign median."""
    results = engine.analyze_all(isic9_test_files)
    report = _report(results, combined)
    assert report.n_scored == 118 and report.rank is not None
    assert 0.25 < report.rank < 0.6  # the cancers lift it above the 25th percentile...
    assert not report.score_alarm  # ...but not out of range
    assert report.n_images_out < 0.1 * report.n_images_checked
    assert not report.alarm and report.status == "in range" and report.words() == ""


def test_dev_eval_stays_silent(engine: Engine, combined: LoadedModel) -> None:
    files = [DATA / e.rel_path for e in read_split(DEV_EVAL)][::8][:120]
    report = _report(engine.analyze_all(files), combined)
    assert report.rank is not None and report.rank < 0.5
    assert not report.alarm


def test_a_new_sites_batch_fires(engine: Engine, combined: LoadedModel) -> None:
    """uda1-external: 118 ISIC-archive images (101 nevi, 17 melanomas) of lesions no model
    trained or tuned on; its benign lesions score higher than the validation images'."""
    files = [DATA / e.rel_path for e in read_split(UDA1_EXTERNAL)]
    assert len(files) == 118
    report = _report(engine.analyze_all(files), combined)
    assert report.score_alarm == "high" and report.alarm and report.status == "out of range"
    assert report.rank_ci is not None and report.rank_ci[0] > 0.5
    words = report.words()
    assert "These images score higher than the ones this point was set on" in words
    assert "most benign lesions will be flagged" in words  # over 3 in 4 of the batch are
    assert report.flagged_share is not None and report.flagged_share >= 0.75
    assert "Calibrate to this site" in words
    assert "percentile" not in words and "quartile" not in words  # statistics: details only
    details = report.details()
    assert "lower quartile" in details and "percentile" in details and "118 scores" in details


def _colour_shifted(sources: list[Path], folder: Path) -> list[Path]:
    """The same real images, darkened with a blue cast (a different camera and light)."""
    folder.mkdir(exist_ok=True)
    out = []
    for src in sources:
        bgr = cv2.imread(str(src)).astype(np.float32)
        bgr = np.clip(bgr * np.array([1.0, 0.45, 0.35]) + np.array([40.0, 0, 0]), 0, 255)
        target = folder / src.name
        cv2.imwrite(str(target), bgr.astype(np.uint8))
        out.append(target)
    return out


def test_colour_shifted_real_images_fire(tmp_path: Path, engine: Engine, combined: LoadedModel,
                                         isic9_test_files: list[Path]) -> None:
    originals = isic9_test_files[::3][:30]
    before = _report(engine.analyze_all(originals), combined)
    after_results = engine.analyze_all(_colour_shifted(originals, tmp_path / "shifted"))
    after = _report(after_results, combined)
    assert not before.image_alarm
    assert after.alarm and after.image_alarm
    assert after.n_images_out >= 0.8 * after.n_images_checked
    assert {"mean_r", "mean_g"} & set(after.stats_out)
    assert "look unlike the model's training images (colour" in after.words()


def test_small_folders_are_never_judged(tmp_path: Path, engine: Engine, combined: LoadedModel,
                                        isic9_test_files: list[Path]) -> None:
    """Three odd images (each flagged in its own input_check cell) raise no batch alarm."""
    results = engine.analyze_all(_colour_shifted(isic9_test_files[:3], tmp_path / "three"))
    assert all(r.input_flags for r in results)
    report = _report(results, combined)
    assert report.n_images_out == 3 and not report.image_alarm and not report.alarm
    assert report.status == "not checked" and report.words() == ""
    assert str(MIN_SCORED_FOR_DRIFT) in CSV_COLUMN_DOCS["batch_drift"]


def test_too_few_scores_are_not_judged(combined: LoadedModel) -> None:
    ref = combined.metadata.benign_stats.scores
    report = check_batch(list(ref[-5:]), ref, [[], [], [], [], []])
    assert report.rank is None and not report.score_alarm
    assert any("fewer than" in n for n in report.notes)
    # A high-scoring batch of enough images is judged and fires; the reference itself does not.
    high = check_batch(list(ref[-60:]), ref, threshold=float(np.median(ref)))
    assert high.score_alarm == "high" and high.most_flagged
    assert "most benign lesions will be flagged" in high.words()
    low = check_batch(list(ref[:60]), ref)
    assert low.score_alarm == "low" and "fewer cancers may be flagged" in low.words()
    assert not check_batch(list(ref), ref).alarm
