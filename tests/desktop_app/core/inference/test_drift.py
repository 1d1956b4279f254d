"""The drift alarm on real images through the real engine: fires on the uda1 full-resolution
originals and on colour-shifted real images, stays silent on isic9 Test and dev-eval."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from desktop_app.core.base.paths import bundled_models_dir
from desktop_app.core.evaluation.splits import DEV_EVAL, read_split
from desktop_app.core.imaging.imageio import file_sha256, read_file
from desktop_app.core.imaging.preprocess import decode_bytes_for_model
from desktop_app.core.inference.drift import (
    MIN_SCORED_FOR_DRIFT,
    ImageRanges,
    check_batch,
    image_stats,
    input_check_words,
    reference_ranges,
)
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.model_file import LoadedModel
from tests.support.data import DATA


@pytest.fixture(scope="module")
def engine(cae2: LoadedModel) -> Engine:
    return Engine(cae2)


def _report(results: list[AnalysisResult], cae2: LoadedModel) -> object:
    ok = [r for r in results if r.ok]
    return check_batch([r.score for r in ok], cae2.metadata.benign_stats.scores,
                       [list(r.input_flags) for r in ok])


@pytest.mark.parametrize("name", ["dermscreen-cae2.onnx", "dermscreen-reference.onnx"])
def test_shipped_models_have_image_ranges(name: str) -> None:
    """The resource entry matches each shipped model file (re-export: rerun export.image_ranges)."""
    path = bundled_models_dir() / name
    ranges = reference_ranges(file_sha256(path))
    assert ranges is not None, f"no image ranges for {name}: python -m export.image_ranges"
    assert ranges.n > 1000 and "validation" in ranges.source
    assert reference_ranges("0" * 64) is None


def test_metadata_ranges_win_over_the_resource(cae2: LoadedModel) -> None:
    stats = {n: {"p005": 0.0, "p995": 1.0} for n in ("long_side", "aspect", "mean_r", "mean_g",
                                                      "mean_b", "sharpness", "vignette_share")}
    ranges = reference_ranges(cae2.sha256, {"image_ranges": {"source": "meta", "stats": stats}})
    assert ranges is not None and ranges.source == "meta"
    with pytest.raises(ValueError, match="finite"):
        ImageRanges.from_dict({"stats": {**stats, "mean_r": {"p005": 2.0, "p995": float("nan")}}})


def test_isic9_test_stays_silent(engine: Engine, cae2: LoadedModel,
                                 isic9_test_files: list[Path]) -> None:
    """isic9 Test holds 54% cancers; its lower quartile still sits near the benign median."""
    results = engine.analyze_all(isic9_test_files)
    report = _report(results, cae2)
    assert report.n_scored == 118 and report.rank is not None
    assert 0.25 < report.rank < 0.6  # the cancers lift it above the 25th percentile...
    assert not report.score_alarm  # ...but not out of range
    assert report.n_images_out < 0.1 * report.n_images_checked
    assert not report.alarm and report.status == "in range" and report.words() == ""


def test_dev_eval_stays_silent(engine: Engine, cae2: LoadedModel) -> None:
    files = [DATA / e.rel_path for e in read_split(DEV_EVAL)][::8][:120]
    report = _report(engine.analyze_all(files), cae2)
    assert report.rank is not None and 0.1 < report.rank < 0.5
    assert not report.alarm


def test_fullres_originals_fire(engine: Engine, cae2: LoadedModel,
                                fullres_files: list[Path]) -> None:
    results = engine.analyze_all(fullres_files)
    assert all("long_side" in r.input_flags for r in results if r.ok)
    assert "size" in results[0].to_row()["input_check"]
    report = _report(results, cae2)
    assert report.image_alarm and report.alarm and report.status == "out of range"
    assert report.n_scored < MIN_SCORED_FOR_DRIFT  # 12 images: the score half is not judged
    assert "outside the range of the model's training images" in report.words()
    assert "Calibrate to This Site" in report.words()


def test_colour_shifted_real_images_fire(tmp_path: Path, engine: Engine, cae2: LoadedModel,
                                         isic9_test_files: list[Path]) -> None:
    """The same real images, darkened with a blue cast (a different camera and light)."""
    originals = isic9_test_files[::3][:30]
    shifted = []
    for src in originals:
        bgr = cv2.imread(str(src)).astype(np.float32)
        bgr = np.clip(bgr * np.array([1.0, 0.45, 0.35]) + np.array([40.0, 0, 0]), 0, 255)
        target = tmp_path / src.name
        cv2.imwrite(str(target), bgr.astype(np.uint8))
        shifted.append(target)
    before = _report(engine.analyze_all(originals), cae2)
    after_results = engine.analyze_all(shifted)
    after = _report(after_results, cae2)
    assert not before.image_alarm
    assert after.alarm and after.image_alarm
    assert after.n_images_out >= 0.8 * after.n_images_checked
    assert {"mean_r", "mean_g"} & {f for r in after_results for f in r.input_flags}
    assert after.score_alarm == "high"  # the model reconstructs such colours poorly too


def test_image_stats_of_a_real_image(fullres_files: list[Path]) -> None:
    blob = read_file(fullres_files[0])
    stats = image_stats(blob, decode_bytes_for_model(blob))
    from PIL import Image

    with Image.open(fullres_files[0]) as img:
        assert stats["long_side"] == max(img.size)  # the original's size, not the decoded one
    assert stats["aspect"] >= 1 and 0 <= stats["vignette_share"] <= 1 and stats["sharpness"] > 0
    assert input_check_words(["long_side", "mean_b"]).startswith("size, blue outside")


def test_too_few_scores_are_not_judged(cae2: LoadedModel) -> None:
    ref = cae2.metadata.benign_stats.scores
    report = check_batch(list(ref[-5:]), ref, [[], [], [], [], []])
    assert report.rank is None and not report.score_alarm
    assert any("fewer than" in n for n in report.notes)
    # A high-scoring batch of enough images is judged and fires; the reference itself does not.
    assert check_batch(list(ref[-60:]), ref).score_alarm == "high"
    assert check_batch(list(ref[:60]), ref).score_alarm == "low"
    assert not check_batch(list(ref), ref).alarm
