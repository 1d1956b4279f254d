"""The results table model and its sort/filter proxy, on real AnalysisResult rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from desktop_app.core.inference.results import error_result, ok_result, redecide
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.gui.panels.results_model import (
    COL_DECISION,
    COL_FILE,
    COL_SCORE,
    COL_STATUS,
    FILTER_ANOMALOUS,
    FILTER_ERRORS,
    ResultsFilterProxy,
    ResultsModel,
)

INFO = {"model_name": "m", "model_version": "1", "model_sha256": "0" * 64, "provider": "CPU"}


@pytest.fixture
def stats() -> BenignStats:
    return BenignStats.from_scores(np.linspace(0.1, 0.3, 50), alpha=1.0)


@pytest.fixture
def rows(stats: BenignStats) -> list:
    thr = stats.threshold()
    out = [
        ok_result(index=i, path=Path(f"/x/img{i}.jpg"), score=s, threshold=thr, stats=stats,
                  image_sha256="a" * 64, model_info=INFO, seconds=0.01)
        for i, s in enumerate([0.12, 0.45, 0.2, 0.31])
    ]
    out.append(error_result(index=4, path=Path("/x/broken.jpg"), error="image data is truncated",
                            error_code="truncated", image_sha256="", model_info=INFO,
                            seconds=0.0))
    return out


def _model(qtbot, rows):
    model = ResultsModel()
    proxy = ResultsFilterProxy()
    proxy.setSourceModel(model)
    model.add_results(rows)
    return model, proxy


def test_decision_has_text_and_colour(rows, qtbot):
    model, _ = _model(qtbot, rows)
    texts = [model.index(r, COL_DECISION).data() for r in range(model.rowCount())]
    assert texts == ["not flagged", "FLAGGED", "not flagged", "FLAGGED", "error"]
    anomalous_bg = model.index(1, COL_DECISION).data(Qt.ItemDataRole.BackgroundRole).color()
    normal_bg = model.index(0, COL_DECISION).data(Qt.ItemDataRole.BackgroundRole).color()
    assert anomalous_bg != normal_bg


def test_error_rows_show_the_reason(rows, qtbot):
    model, _ = _model(qtbot, rows)
    assert model.index(4, COL_STATUS).data() == "error: image data is truncated"
    assert "truncated" in model.index(4, COL_FILE).data(Qt.ItemDataRole.ToolTipRole)
    assert model.index(4, COL_SCORE).data() == "—"


def test_sort_by_score_puts_errors_first_ascending(rows, qtbot):
    _, proxy = _model(qtbot, rows)
    proxy.sort(COL_SCORE, Qt.SortOrder.DescendingOrder)
    names = [proxy.index(r, COL_FILE).data() for r in range(proxy.rowCount())]
    assert names == ["img1.jpg", "img3.jpg", "img2.jpg", "img0.jpg", "broken.jpg"]


def test_filters(rows, qtbot):
    _, proxy = _model(qtbot, rows)
    proxy.set_mode(FILTER_ANOMALOUS)
    assert sorted(proxy.index(r, COL_FILE).data() for r in range(proxy.rowCount())) == [
        "img1.jpg", "img3.jpg"]
    proxy.set_mode(FILTER_ERRORS)
    assert [proxy.index(r, COL_FILE).data() for r in range(proxy.rowCount())] == ["broken.jpg"]
    proxy.set_mode("all")
    proxy.setFilterFixedString("IMG2")
    assert [proxy.index(r, COL_FILE).data() for r in range(proxy.rowCount())] == ["img2.jpg"]
    with pytest.raises(ValueError, match="unknown filter"):
        proxy.set_mode("nonsense")


def test_redecide_all_rows_and_counts(rows, stats, qtbot):
    model, proxy = _model(qtbot, rows)
    assert model.counts() == {"total": 5, "anomalous": 2, "normal": 2, "errors": 1}
    model.map_results(lambda r: redecide(r, stats, 0.15))
    assert model.counts() == {"total": 5, "anomalous": 3, "normal": 1, "errors": 1}
    proxy.set_mode(FILTER_ANOMALOUS)
    assert proxy.rowCount() == 3
    assert [r.index for r in model.results()] == [0, 1, 2, 3, 4]


def test_same_index_replaces_its_row(rows, stats, qtbot):
    model, _ = _model(qtbot, rows)
    model.add_results([redecide(rows[0], stats, 0.0)])
    assert model.rowCount() == 5
    assert model.result_at(0).decision == "anomalous"


def test_subfolder_is_relative_to_the_opened_folder_and_never_a_bare_folder_name():
    from desktop_app.gui.panels.results_model import relative_folder

    root = Path("/clinic/batch")
    assert relative_folder(root / "a.jpg", [root]) == ""
    assert relative_folder(root / "left arm" / "2026" / "a.jpg", [root]) == "left arm/2026"
    # A file opened on its own: its folder may be named after the patient or the diagnosis.
    assert relative_folder(Path("/Patients/Smith John/melanoma/a.jpg"), [root]) == ""
