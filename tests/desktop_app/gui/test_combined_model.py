"""The combined model (issue 27) in the real window: both maps, both parts named, and the
benign-only CAE one menu click away with its own single map."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core.base.paths import bundled_models_dir, default_model_path
from desktop_app.core.wording.texts import ANOMALY_PART, CLASSIFIER_PART
from tests.desktop_app.gui.conftest import wait_batch, wait_for

COMBINED = bundled_models_dir() / "dermscreen-combined.onnx"
CAE = bundled_models_dir() / "dermscreen-cae2.onnx"


def _first_case(window, qtbot, folder: Path):
    window.open_paths([str(folder)])
    wait_batch(qtbot, window)
    window.select_row(0)
    wait_for(qtbot, lambda: window.shown_case is not None, "the first case to be shown")
    return window.shown_case


def test_default_model_is_the_fast_derm_one() -> None:
    """Issue 34's rule (tests/export/test_derm.py) put dermscreen-derm-fast above combined."""
    assert default_model_path() == bundled_models_dir() / "dermscreen-derm-fast.onnx"


def test_combined_model_shows_both_maps_and_names_both_parts(make_window, image_folder, qtbot):
    window = make_window(COMBINED)
    result, images = _first_case(window, qtbot, image_folder)
    viewer = window.case_viewer
    assert viewer.shows_evidence and images.evidence_map is not None
    # The evidence view draws the positive class activation, on this case's own scale.
    towards = np.clip(images.evidence_map, 0, None)
    assert viewer.evidence_vmax > 0 and viewer.evidence_vmax <= towards.max() + 1e-6
    assert viewer.evidence_item.image is not None
    assert viewer.evidence_item.image.shape[:2] == images.evidence_map.shape
    label = viewer.case_label.text()
    assert ANOMALY_PART in label and CLASSIFIER_PART in label
    assert result.probability is not None and result.anomaly_score is not None
    assert f"{result.probability:.3f}" in label
    assert "labelled cancers" in viewer.title_items[3].toolTip()
    panel = window.score_panel
    assert panel.probability_label.isVisibleTo(window)
    assert panel.probability_label.text() == f"{result.probability:.3f}"


def test_the_cae_alone_has_one_map_and_no_parts(make_window, image_folder, qtbot):
    window = make_window(CAE)
    result, images = _first_case(window, qtbot, image_folder)
    assert images.evidence_map is None and not window.case_viewer.shows_evidence
    label = window.case_viewer.case_label.text()
    assert CLASSIFIER_PART not in label
    assert result.probability is None
    assert not window.score_panel.probability_label.isVisibleTo(window)
