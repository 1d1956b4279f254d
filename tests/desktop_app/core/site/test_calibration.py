"""A site whose scores drift (uda1-external: ISIC archive photographs, not square, never
trained on): the alarm fires at the model's point, calibration moves the point, and with
the site's profile active the same kind of batch is in range."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.evaluation.splits import UDA1_EXTERNAL, read_split
from desktop_app.core.inference.engine import Engine
from desktop_app.core.inference.results import AnalysisResult
from desktop_app.core.model.model_file import LoadedModel
from desktop_app.core.model.operating_points import opening_threshold
from desktop_app.core.site.calibration import (
    calibrate_half,
    calibration_input,
    drift_of,
    profile_from_results,
    usual_flags,
)
from tests.support.data import DATA


@pytest.fixture(scope="module")
def uda1(cae2: LoadedModel) -> tuple[list[AnalysisResult], list[AnalysisResult]]:
    """(benign, malignant) results of the uda1-external split through the real engine."""
    entries = read_split(UDA1_EXTERNAL)
    results = Engine(cae2).analyze_all([DATA / e.rel_path for e in entries])
    benign = [r for r, e in zip(results, entries, strict=True) if e.cls == "nevus"]
    malignant = [r for r, e in zip(results, entries, strict=True) if e.cls != "nevus"]
    assert len(benign) == 101 and len(malignant) == 17 and all(r.ok for r in results)
    return benign, malignant


def test_drifting_site_fires_then_calibration_quiets_it(
        cae2: LoadedModel, uda1: tuple[list[AnalysisResult], list[AnalysisResult]]) -> None:
    benign, malignant = uda1
    # A seeded random half: the file order is by ISIC id, i.e. by when the images were taken,
    # and calibration images must be a fair sample of the site's benign lesions.
    order = np.random.default_rng(1).permutation(len(benign))
    calib = [benign[i] for i in order[:50]]
    rest = [benign[i] for i in order[50:]]
    later = rest + malignant
    before = drift_of(later, cae2, None, ranges_known=True)
    assert before.alarm
    assert before.score_alarm == "high"  # the site's benign lesions score higher
    # At the model's screening point nearly every benign lesion of this site is flagged.
    t_screen, _ = opening_threshold(cae2.metadata)
    assert np.mean([r.score <= t_screen for r in benign]) < 0.15

    profile, data = profile_from_results("UDA site", calib, cae2)
    assert data.scores and not data.errors and not data.duplicates
    # Its photographs are 4:3, unlike the square training files, but the model sees them
    # squashed to its square input as the training images were: no statistic is usual here.
    assert profile.accepted_flags == usual_flags(calib)
    assert "aspect" not in profile.accepted_flags
    assert profile.threshold > t_screen
    after = drift_of(rest, cae2, profile, ranges_known=True)
    assert not after.alarm and after.reference == "site profile UDA site"
    # Per image the reasons stay: this site's melanoma photographs mostly have a dark border
    # unlike its benign ones, and each says so.
    assert sum("vignette_share" in r.input_flags for r in malignant) > len(malignant) / 2
    # The held-out benign images are decided at about the target specificity.
    held = [r.score for r in rest]
    assert 0.3 < np.mean(np.asarray(held) <= profile.threshold) < 0.7


def test_calibration_input_counts_duplicates_once(
        uda1: tuple[list[AnalysisResult], list[AnalysisResult]]) -> None:
    from dataclasses import replace

    benign, _ = uda1
    twice = [*benign[:40], *(replace(r, index=r.index + 1000) for r in benign[:5])]
    data = calibration_input(twice)
    assert len(data.scores) == 40 and len(data.duplicates) == 5
    assert any("5 duplicate files" in p for p in data.problems())


def test_calibrate_half_partitions_the_benign_images(
        cae2: LoadedModel, uda1: tuple[list[AnalysisResult], list[AnalysisResult]]) -> None:
    benign, malignant = uda1
    labels = [0] * len(benign) + [1] * len(malignant)
    scores = [float(r.score) for r in benign + malignant]
    half = calibrate_half(labels, scores, cae2, seed=5)
    assert half["n_calibration"] + half["n_held_out_benign"] == 101
    assert half["n_malignant"] == 17
    flagged = np.asarray(scores[101:]) > half["threshold"]
    assert half["sensitivity"] == pytest.approx(flagged.mean())
    assert half == calibrate_half(labels, scores, cae2, seed=5)  # seeded: the same split
    assert half["threshold"] != calibrate_half(labels, scores, cae2, seed=6)["threshold"]
    with pytest.raises(ValueError, match="under the 30"):
        calibrate_half(labels[50:], scores[50:], cae2)


def test_a_stored_profile_naming_old_statistics_still_reads(
        cae2: LoadedModel, uda1: tuple[list[AnalysisResult], list[AnalysisResult]]) -> None:
    """Profiles stored before issue 30 may accept "aspect" or "long_side" (no longer checked)."""
    from desktop_app.core.site.site_profile import SiteProfile

    benign, _ = uda1
    profile, _ = profile_from_results("Old site", benign[:40], cae2, created_by="Dr Lee")
    data = profile.to_dict()
    data["accepted_flags"] = ["aspect", "long_side"]
    again = SiteProfile.from_dict(data)
    assert again.accepted_flags == ("aspect", "long_side") and again.created_by == "Dr Lee"
