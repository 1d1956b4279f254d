"""Expected performance from stored operating points, and the alpha control."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app.core.imaging.preprocess import PreprocessConfig
from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.model.operating_points import (
    borderline_low,
    expected_performance,
    expected_words,
    opening_threshold,
    screening_threshold,
    wilson,
)
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.gui.panels.operating_point import OperatingPointControl
from desktop_app.session.operating_point import OperatingPoint, parse_alpha

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


def _meta(stats: BenignStats, points: list, threshold: float, **extra) -> ModelMetadata:
    return ModelMetadata(model_name="m", model_version="1", created="now",
                         threshold=threshold, benign_stats=stats, loss_weights={},
                         preprocess=PreprocessConfig(), operating_points=points, **extra)


# Validation points as the pipeline stores them (alpha None, val_sensitivity set).
SCREENING_POINTS = [
    *POINTS,
    {"label": "validation sensitivity 80%", "alpha": None, "threshold": 0.22,
     "val_sensitivity": 0.80, "test_sensitivity": 0.75, "test_specificity": 0.55},
    {"label": "validation sensitivity 90%", "alpha": None, "threshold": 0.16,
     "val_sensitivity": 0.905, "test_sensitivity": 0.86, "test_specificity": 0.37},
    {"label": "validation sensitivity 95%", "alpha": None, "threshold": 0.12,
     "val_sensitivity": 0.951, "test_sensitivity": 0.93, "test_specificity": 0.2},
]
EVALUATION = {"at_alphas": [{"confusion": {"tp": 33, "fn": 31, "tn": 45, "fp": 9}}]}


def test_screening_point_and_band_come_from_the_validation_points(stats):
    meta = _meta(stats, SCREENING_POINTS, 0.3)
    assert screening_threshold(meta) == 0.16  # highest threshold flagging >= 90%
    assert borderline_low(meta) == 0.12
    assert opening_threshold(meta) == (0.16, "screening point")
    plain = _meta(stats, POINTS, 0.3)
    assert screening_threshold(plain) is None
    assert opening_threshold(plain) == (0.3, "model threshold")
    explicit = _meta(stats, SCREENING_POINTS, 0.3, extra={"screening_threshold": 0.18})
    assert screening_threshold(explicit) == 0.18
    roles = _meta(stats, [{"role": "screening", "threshold": 0.17},
                          {"role": "borderline", "threshold": 0.11}], 0.3)
    assert screening_threshold(roles) == 0.17 and borderline_low(roles) == 0.11


def test_expected_words_name_the_data_and_carry_intervals(stats):
    meta = _meta(stats, SCREENING_POINTS, 0.3, evaluation=EVALUATION,
                 data={"dataset": "isic9"})
    test, validation, data = expected_words(meta, 0.16)
    lo, hi = wilson(0.86, 64)
    assert test.startswith(f"Flags about 86 of 100 cancers ({100 * lo:.0f}–{100 * hi:.0f})")
    assert "about 63 of 100 benign lesions" in test
    assert "benign validation images" in validation and f"({stats.n} in all)" in validation
    assert "Test split of isic9: 64 cancers, 54 benign" in data
    assert wilson(0.5, 0) == (0.0, 1.0)
    lo, hi = wilson(0.9, 100)
    assert lo < 0.9 < hi


@pytest.mark.parametrize(("typed", "expected"), [
    ("0.5", 0.5), ("-0.5", -0.5), (" 2 ", 2.0), ("1,25", 1.25), ("α = 0.7", 0.7)])
def test_parse_alpha_keeps_what_was_typed(typed, expected):
    assert parse_alpha(typed) == expected


@pytest.mark.parametrize("typed", ["", ".", "-", "abc", "nan", "inf", "99", "-7"])
def test_parse_alpha_refuses_with_a_reason(typed):
    assert isinstance(parse_alpha(typed), str)


def test_control_opens_at_the_screening_point_and_shows_leaving_it(qtbot, stats):
    control = OperatingPointControl()
    qtbot.addWidget(control)
    assert not control.isEnabled()
    control.set_model(_meta(stats, SCREENING_POINTS, stats.threshold(), evaluation=EVALUATION))
    assert control.isEnabled()
    assert control.threshold == 0.16 and control.at_model_default
    assert "default point (screening point)" in control.state_label.text()
    assert not control.reset_button.isEnabled()
    # The seed's mean + 1.3 sd stays selectable by name.
    names = [control.point_combo.itemText(i) for i in range(control.point_combo.count())]
    assert "Mean + 1.3 sd" in names and "Model threshold" in names
    with qtbot.waitSignal(control.threshold_chosen) as sig:
        control.point_combo.activated.emit(names.index("Mean + 1.3 sd"))
    assert sig.args == [pytest.approx(stats.threshold(1.3))]
    assert "Not the model's default" in control.state_label.text()
    assert control.reset_button.isEnabled()
    with qtbot.waitSignal(control.threshold_chosen) as sig:
        control.reset_button.click()
    assert sig.args == [0.16] and control.at_model_default


def test_typing_an_alpha_keeps_it_exactly(qtbot, stats):
    control = OperatingPointControl()
    qtbot.addWidget(control)
    control.set_model(_meta(stats, POINTS, stats.threshold()))
    for typed, alpha in (("0.5", 0.5), ("-0.5", -0.5)):
        control.alpha_edit.selectAll()
        qtbot.keyClicks(control.alpha_edit, typed)
        with qtbot.waitSignal(control.threshold_chosen) as sig:
            qtbot.keyClick(control.alpha_edit, Qt.Key.Key_Return)
        assert control.alpha == alpha
        assert sig.args == [stats.threshold(alpha)]
        assert control.alpha_edit.text() == typed
        assert control.slider.value() == round(alpha * 100)
    # A bad entry keeps the text, says why, and changes nothing.
    control.alpha_edit.selectAll()
    qtbot.keyClicks(control.alpha_edit, "0.")
    control.alpha_edit.setText("abc")
    with qtbot.assertNotEmitted(control.threshold_chosen):
        assert not control.apply_typed()
    assert control.alpha == -0.5
    assert control.alpha_edit.text() == "abc"
    assert "not a number" in control.entry_error.text()


def test_control_starts_at_a_saved_alpha_without_emitting(qtbot, stats):
    control = OperatingPointControl()
    qtbot.addWidget(control)
    with qtbot.assertNotEmitted(control.threshold_chosen):
        control.set_model(_meta(stats, [], stats.threshold()), alpha=0.5)
    assert control.alpha == pytest.approx(0.5)
    assert not control.at_model_default
    assert "Not the model's default" in control.state_label.text()
    assert control.expected_label.text() == "No test-set figures are stored in the model."


def test_a_model_threshold_that_is_no_round_alpha_is_kept_exactly(qtbot, stats):
    # E.g. a threshold chosen on validation: alpha -0.2266..., shown as -0.23.
    model_threshold = stats.mean - 0.22664 * stats.sd
    control = OperatingPointControl()
    qtbot.addWidget(control)
    control.set_model(_meta(stats, POINTS, model_threshold))
    assert control.alpha_edit.text() == "-0.23"
    assert control.threshold == model_threshold  # not mean - 0.23 sd
    assert control.at_model_default
    with qtbot.waitSignal(control.threshold_chosen) as sig:
        control.slider.setValue(control.slider.value() + 5)
    assert sig.args[0] == pytest.approx(stats.threshold(-0.18))
    assert not control.at_model_default
    with qtbot.waitSignal(control.threshold_chosen) as sig:
        control.reset_button.click()
    assert sig.args[0] == model_threshold
    assert control.threshold == model_threshold


def test_operating_point_state_without_qt(stats):
    point = OperatingPoint()
    seen: list[float] = []
    point.changed.connect(seen.append)
    point.set_alpha(1.0)  # no model yet: nothing happens
    assert point.threshold is None and seen == []
    point.attach(_meta(stats, SCREENING_POINTS, 0.3))
    assert point.threshold == 0.16 and point.at_default
    assert [name for name, _t in point.named_points()] == [
        "Screening (default)", "Model threshold", "Mean + 1.3 sd"]
    point.set_alpha(0.5)
    assert point.alpha == 0.5 and point.threshold == stats.threshold(0.5)
    assert not point.at_default
    point.set_alpha(99)  # clamped
    assert point.alpha == 10.0
    point.reset()
    assert point.at_default and seen[-1] == 0.16
    point.attach(_meta(stats, POINTS, 0.3), alpha=2.0)  # a saved choice
    assert point.alpha == 2.0 and point.default_threshold == 0.3 and not point.at_default
