"""AnalysisResult, CSV row layout and re-deciding from stored scores (no model needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.inference.results import (
    CSV_COLUMNS,
    AnalysisResult,
    error_result,
    ok_result,
    redecide,
    redecide_all,
    summarize,
)
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.core.wording.texts import CSV_COLUMN_DOCS as COLUMN_DOCS

INFO = {"model_name": "cae", "model_version": "1.2", "model_sha256": "ab" * 32, "provider": "CPU"}


@pytest.fixture
def stats() -> BenignStats:
    rng = np.random.default_rng(3)
    return BenignStats.from_scores(rng.normal(0.02, 0.005, 200), alpha=1.3)


def make_ok(stats: BenignStats, score: float, threshold: float, index: int = 0) -> AnalysisResult:
    return ok_result(index=index, path=Path(f"/data/img{index}.jpg"), score=score,
                     threshold=threshold, stats=stats, image_sha256="cd" * 32, model_info=INFO,
                     seconds=0.01)


def test_csv_columns_are_fixed_and_documented() -> None:
    assert CSV_COLUMNS[:4] == ("index", "path", "file_name", "status")
    assert len(set(CSV_COLUMNS)) == len(CSV_COLUMNS)
    assert tuple(COLUMN_DOCS) == CSV_COLUMNS
    assert "decision" not in CSV_COLUMNS  # one vocabulary: triage says flagged / not flagged
    for name in ("score", "threshold", "triage", "z", "percentile", "image_sha256",
                 "model_name", "model_version", "model_sha256", "provider", "seconds",
                 "analysed_at", "error", "error_code"):
        assert name in CSV_COLUMNS


def test_ok_result_uses_benign_stats(stats: BenignStats) -> None:
    t = stats.threshold()
    r = make_ok(stats, 0.035, t)
    assert r.ok and r.decision == "anomalous" and r.is_anomalous
    assert r.z == pytest.approx(float(stats.z(0.035)))
    assert r.percentile == pytest.approx(float(stats.percentile(0.035)))
    assert r.threshold == pytest.approx(t)
    row = r.to_row()
    assert tuple(row) == CSV_COLUMNS
    assert row["status"] == "ok" and r.is_anomalous
    assert float(row["score"]) == pytest.approx(0.035)
    assert row["model_sha256"] == "ab" * 32 and row["file_name"] == "img0.jpg"


def test_score_equal_to_threshold_is_normal(stats: BenignStats) -> None:
    assert make_ok(stats, 0.03, 0.03).decision == "normal"


def test_redecide_changes_only_the_decision(stats: BenignStats) -> None:
    r = make_ok(stats, 0.025, stats.threshold(1.3))
    low = redecide(r, stats, stats.threshold(0.5))
    high = redecide(r, stats, stats.threshold(3.0))
    assert (low.decision, high.decision) == ("anomalous", "normal")
    for other in (low, high):
        assert other.score == r.score and other.z == r.z and other.percentile == r.percentile
        assert other.image_sha256 == r.image_sha256 and other.analysed_at == r.analysed_at
    assert high.threshold == pytest.approx(stats.threshold(3.0))


def test_redecide_leaves_error_rows_alone(stats: BenignStats) -> None:
    err = error_result(index=4, path=Path("x.jpg"), error="file is empty (0 bytes)",
                       error_code="empty_file", image_sha256="", model_info=INFO, seconds=0.0)
    assert redecide(err, stats, 0.0) is err
    row = err.to_row()
    assert row["status"] == "error" and row["score"] == "" and row["threshold"] == ""
    assert row["error_code"] == "empty_file"


def test_redecide_all_matches_fresh_decisions(stats: BenignStats) -> None:
    scores = [0.01, 0.02, 0.026, 0.03, 0.05]
    results = [make_ok(stats, s, stats.threshold(), i) for i, s in enumerate(scores)]
    t = stats.threshold(0.2)
    redone = redecide_all(results, stats, t)
    assert [r.decision for r in redone] == [make_ok(stats, s, t).decision for s in scores]
    counts = summarize(redone)
    assert counts["total"] == 5 and counts["anomalous"] == sum(s > t for s in scores)


def test_status_and_decision_are_str_enums(stats: BenignStats) -> None:
    from desktop_app.core.inference.results import Decision, Status

    r = make_ok(stats, 0.035, stats.threshold())
    assert r.status is Status.OK and r.status == "ok" and isinstance(r.status, str)
    assert r.decision is Decision.ANOMALOUS and r.decision == "anomalous"
    assert f"{r.decision}" == "anomalous" and r.decision.upper() == "ANOMALOUS"
    err = error_result(index=1, path=Path("x.jpg"), error="e", error_code="empty_file",
                       image_sha256="", model_info=INFO, seconds=0.0)
    assert err.status is Status.ERROR and err.decision is Decision.NONE and err.decision == ""
    assert redecide(r, stats, 1.0).decision is Decision.NORMAL
    row = r.to_row()
    assert type(row["status"]) is str or row["status"] == "ok"
    assert row["status"] == "ok"


def test_model_verified_column(stats: BenignStats) -> None:
    unverified = make_ok(stats, 0.01, 0.02)
    assert unverified.model_verified is False and unverified.to_row()["model_verified"] == "no"
    signed = ok_result(index=0, path=Path("a.jpg"), score=0.01, threshold=0.02, stats=stats,
                       image_sha256="", model_info={**INFO, "model_verified": True}, seconds=0.0)
    assert signed.to_row()["model_verified"] == "yes"
    assert CSV_COLUMNS.index("model_verified") == CSV_COLUMNS.index("model_sha256") + 1
