"""Expected performance from stored operating points, and the alpha control."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.core.score_stats import BenignStats
from desktop_app.gui.operating_point import OperatingPointControl, expected_performance

POINTS = [
    {"label": "a", "alpha": 1.0, "threshold": 0.10, "val_specificity": 0.8,
     "test_sensitivity": 0.90, "test_specificity": 0.50},
    {"label": "b", "alpha": 2.0, "threshold": 0.20, "val_specificity": 0.9,
     "test_sensitivity": 0.70, "test_specificity": 0.80},
    {"label": "c", "alpha": 3.0, "threshold": 0.30, "val_specificity": 0.97,
     "test_sensitivity": None, "test_specificity": 0.95},
]


def test_interpolates_between_points():
    perf = expected_performance(POINTS, 0.15)
    assert perf.sensitivity == pytest.approx(0.80)
    assert perf.specificity == pytest.approx(0.65)
    assert perf.how == "interpolated"


def test_exact_point_and_nearest_outside_the_range():
    assert expected_performance(POINTS, 0.10).sensitivity == pytest.approx(0.90)
    low = expected_performance(POINTS, 0.01)
    assert (low.sensitivity, low.specificity, low.how) == (0.90, 0.50, "nearest")
    high = expected_performance(POINTS, 0.5)
    # Sensitivity is missing at the last point: the last one that has it is used.
    assert high.sensitivity == pytest.approx(0.70)
    assert high.specificity == pytest.approx(0.95)
    assert high.how == "nearest"


def test_unordered_and_broken_points_are_tolerated():
    messy = [POINTS[2], {"label": "bad", "threshold": "nan?"}, POINTS[0], POINTS[1]]
    assert expected_performance(messy, 0.15).sensitivity == pytest.approx(0.80)
    none = expected_performance([], 0.2)
    assert none.sensitivity is None and none.specificity is None


@pytest.fixture
def stats() -> BenignStats:
    rng = np.random.default_rng(0)
    return BenignStats.from_scores(rng.normal(0.2, 0.05, 200), alpha=1.3)


def test_control_reports_threshold_and_emits_on_change(qtbot, stats):
    control = OperatingPointControl()
    qtbot.addWidget(control)
    assert not control.isEnabled()
    control.set_model(stats, POINTS, stats.threshold(), alpha=None)
    assert control.isEnabled()
    assert control.alpha == pytest.approx(1.3)
    assert "model default" in control.threshold_label.text()
    with qtbot.waitSignal(control.alpha_changed) as sig:
        control.spin.setValue(2.0)
    alpha, threshold = sig.args
    assert alpha == pytest.approx(2.0)
    assert threshold == pytest.approx(stats.threshold(2.0))
    assert control.slider.value() == 200
    spec = stats.specificity_at(threshold)
    assert f"{100 * spec:.0f}%" in control.validation_label.text()
    assert "sensitivity" in control.expected_label.text()
    with qtbot.waitSignal(control.alpha_changed):
        control.reset_button.click()
    assert control.alpha == pytest.approx(1.3)


def test_control_starts_at_a_saved_alpha_without_emitting(qtbot, stats):
    control = OperatingPointControl()
    qtbot.addWidget(control)
    with qtbot.assertNotEmitted(control.alpha_changed):
        control.set_model(stats, [], stats.threshold(), alpha=0.5)
    assert control.alpha == pytest.approx(0.5)
    assert control.expected_label.text() == "no operating points stored in the model"


def test_a_model_threshold_that_is_no_round_alpha_is_kept_exactly(qtbot, stats):
    # E.g. a threshold chosen on validation: alpha -0.2266..., shown as -0.23.
    model_threshold = stats.mean - 0.22664 * stats.sd
    control = OperatingPointControl()
    qtbot.addWidget(control)
    control.set_model(stats, POINTS, model_threshold, alpha=None)
    assert control.spin.value() == pytest.approx(-0.23)
    assert control.threshold == model_threshold  # not mean - 0.23 sd
    assert "model default" in control.threshold_label.text()
    with qtbot.waitSignal(control.alpha_changed) as sig:
        control.spin.stepUp()
    assert sig.args[1] == pytest.approx(stats.threshold(-0.18))
    assert "model default" not in control.threshold_label.text()
    with qtbot.waitSignal(control.alpha_changed) as sig:
        control.reset_button.click()
    assert sig.args[1] == model_threshold
    assert control.threshold == model_threshold
