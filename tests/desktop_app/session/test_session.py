"""The window's Qt-free state, driven as the window drives it, on the real small model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.inference.results import STATUS_OK, error_result
from desktop_app.gui.threads.model_loading import load_model_and_engine
from desktop_app.session.events import Event
from desktop_app.session.session import OpenPlan, Session

REPO = Path(__file__).resolve().parents[3]


def test_components_import_no_qt():
    code = ("import sys, desktop_app.session.session, desktop_app.session.review,"
            " desktop_app.session.operating_point;"
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'shiboken6', 'pyqtgraph'))];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                          timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_event_calls_every_callback_even_after_one_fails():
    seen: list[int] = []
    event: Event[int] = Event("numbers")

    def broken(_value: int) -> None:
        raise RuntimeError("broken view")

    event.connect(broken)
    event.connect(seen.append)
    event.connect(seen.append)  # connected once
    event.emit(3)
    assert seen == [3]
    event.disconnect(seen.append)
    event.emit(4)
    assert seen == [3]


@pytest.fixture(scope="module")
def loaded(small_model_path: Path):
    return load_model_and_engine(small_model_path)


@pytest.fixture
def session(tmp_path: Path) -> Session:
    return Session(review_path=tmp_path / "reviews.json")


def _load(session: Session, loaded, path: Path) -> list[str] | None:
    model, engine = loaded
    assert session.begin_model_load(path, remember=False)
    assert not session.begin_model_load(path, remember=False)  # one load at a time
    return session.finish_model_load(path, model, engine, model.metadata.threshold)


def test_open_requests_wait_for_the_model_and_for_a_running_batch(session, loaded,
                                                                    small_model_path):
    assert session.plan_open([]) is OpenPlan.NOTHING
    assert session.plan_open(["a"]) is OpenPlan.NO_MODEL
    session.begin_model_load(small_model_path, remember=False)
    assert session.plan_open(["first"]) is OpenPlan.WAIT_FOR_MODEL
    model, engine = loaded
    rerun = session.finish_model_load(small_model_path, model, engine, 0.1)
    assert rerun == ["first"] and session.can_analyse
    assert session.plan_open(["first"]) is OpenPlan.START
    batch = session.start_batch(["first"])
    assert session.plan_open(["second"]) is OpenPlan.AFTER_BATCH
    end = session.finish_batch(batch, cancelled=True)
    assert end is not None and end.cancelled and end.queued == ["second"]
    assert not session.running
    assert session.finish_batch(batch - 1, cancelled=False) is None  # an older batch: ignored
    assert session.queued_inputs is None  # the queued request was handed over once


def test_batch_results_flush_in_bursts_and_old_batches_are_dropped(session, loaded,
                                                                   small_model_path,
                                                                   isic9_test_files):
    _load(session, loaded, small_model_path)
    _model, engine = loaded
    files = isic9_test_files[:6]
    inserted: list[tuple[int, int]] = []
    session.results.inserted.connect(inserted.append)
    old = session.start_batch([str(f) for f in files])
    new = session.start_batch([str(f) for f in files])
    results = engine.analyze_all(files, threshold=session.threshold)
    for res in results[:3]:
        session.accept_result(old, res)  # a replaced batch writes nothing
        session.accept_result(new, res)
    assert session.flush() == 3
    for res in results[3:]:
        session.accept_result(new, res)
    assert session.finish_batch(old, cancelled=False) is None
    end = session.finish_batch(new, cancelled=False)
    assert end is not None and end.counts["total"] == 6
    assert inserted == [(0, 2), (3, 5)]
    assert [r.path for r in session.results.in_input_order()] == list(files)


def test_new_threshold_redecides_every_row_without_inference(session, loaded, small_model_path,
                                                              isic9_test_files):
    _load(session, loaded, small_model_path)
    _model, engine = loaded
    batch = session.start_batch(["x"])
    results = engine.analyze_all(isic9_test_files[:8], threshold=session.threshold)
    bad = error_result(index=99, path=Path("/x/broken.jpg"), error="truncated",
                       error_code="truncated", image_sha256="", model_info=engine.model_info(),
                       seconds=0.0)
    for res in [*results, bad]:
        session.accept_result(batch, res)
    session.finish_batch(batch, cancelled=False)
    scores = sorted(r.score for r in results)
    middle = (scores[3] + scores[4]) / 2
    changed: list[float] = []
    session.threshold_changed.connect(changed.append)
    session.set_threshold(middle)
    after = session.results.in_input_order()
    assert changed == [middle]
    assert [r.score for r in after[:-1]] == [r.score for r in results]
    assert sum(r.decision == "anomalous" for r in after) == 4
    assert all(r.threshold == middle for r in after if r.status == STATUS_OK)
    assert after[-1] == bad  # error rows are left alone


def test_a_new_model_reruns_what_is_shown(session, loaded, small_model_path, tmp_path):
    _load(session, loaded, small_model_path)
    session.start_batch(["shown-folder"])
    session.finish_batch(session.batch_id, cancelled=False)
    model, engine = loaded
    other = tmp_path / "other.onnx"
    session.begin_model_load(other, remember=True)
    assert session.finish_model_load(other, model, engine, 0.2) == ["shown-folder"]
    assert session.remember_model and session.model_path == other
    session.begin_model_load(tmp_path / "broken.onnx", remember=False)
    failures: list[str] = []
    session.model_failed.connect(failures.append)
    session.fail_model_load("not an ONNX model")
    assert failures == ["not an ONNX model"]
    assert session.engine is engine and session.can_analyse  # the working model stays


def test_latest_case_request_wins(session, loaded, small_model_path, isic9_test_files):
    _load(session, loaded, small_model_path)
    _model, engine = loaded
    first, second, third = engine.analyze_all(isic9_test_files[:3])
    assert session.begin_explain(first)
    assert not session.begin_explain(second)
    assert not session.begin_explain(third)
    assert session.explain_waiting
    assert session.end_explain() == third  # the second was skipped
    assert session.begin_explain(third)
    assert session.end_explain() is None
    images = engine.explain(third.path)
    session.store_case(third, images)
    assert session.cached_case(third) is images
    assert session.cached_case(first) is None
