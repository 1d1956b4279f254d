"""The window's state without a widget: model, operating point, batch queue, results, cases.

:class:`Session` decides; the window runs the threads and shows what the
session's events say. Every method here runs on the GUI thread (the window
calls it from queued signals), so nothing here locks. Qt-free: tested with
plain Python and real results, no QApplication.
"""

from __future__ import annotations

import enum
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.core.inference.results import STATUS_OK, AnalysisResult, redecide
from desktop_app.session.events import Event
from desktop_app.session.operating_point import OperatingPoint
from desktop_app.session.result_list import ResultList
from desktop_app.session.review import Review, ReviewStore

if TYPE_CHECKING:  # the engine pulls in ONNX Runtime; the session never needs it at import
    from desktop_app.core.inference.engine import CaseImages, Engine
    from desktop_app.core.model.model_file import LoadedModel

CASE_CACHE_SIZE = 8


class OpenPlan(enum.Enum):
    """What :meth:`Session.plan_open` decided for a request to analyse some paths."""

    NOTHING = "nothing"  # no paths given
    NO_MODEL = "no-model"  # refused: no model is loaded
    WAIT_FOR_MODEL = "wait-for-model"  # queued: starts once the model being loaded is ready
    AFTER_BATCH = "after-batch"  # queued: the running batch must be cancelled first
    START = "start"  # start a batch now


@dataclass(frozen=True)
class BatchEnd:
    """How a batch ended, and what was asked for meanwhile."""

    batch_id: int
    cancelled: bool
    counts: dict[str, int]
    queued: list[str] | None


ShownCase = tuple[AnalysisResult, "CaseImages"]


class Session:
    """Model, engine, threshold, batch queue, results, case images and reviews of one window.

    ``review_path``: the JSON file the reviews are kept in.
    """

    def __init__(self, review_path: Path) -> None:
        self.results = ResultList()
        self.reviews = ReviewStore(review_path)
        self.operating_point = OperatingPoint()
        self.model: LoadedModel | None = None
        self.engine: Engine | None = None
        self.model_path: Path | None = None
        self.model_error = ""
        self.loading_model = False
        self.remember_model = False
        self.threshold: float | None = None
        self.batch_id = 0
        self.running = False
        self.last_inputs: list[str] = []
        self.queued_inputs: list[str] | None = None
        self.shown_case: ShownCase | None = None
        self._pending: list[AnalysisResult] = []
        self._cases: OrderedDict[tuple[str, str], CaseImages] = OrderedDict()
        self._explain_busy = False
        self._explain_next: AnalysisResult | None = None

        self.model_loaded: Event[LoadedModel] = Event("model_loaded")
        self.model_failed: Event[str] = Event("model_failed")
        self.threshold_changed: Event[float] = Event("threshold_changed")
        self.batch_started: Event[int] = Event("batch_started")
        self.batch_finished: Event[BatchEnd] = Event("batch_finished")

    # -- model ------------------------------------------------------------------
    @property
    def can_analyse(self) -> bool:
        """A model is loaded and no other one is being loaded."""
        return self.engine is not None and not self.loading_model

    def begin_model_load(self, path: Path, *, remember: bool) -> bool:
        """Mark a load of ``path`` as started; False when another load is still running."""
        if self.loading_model:
            return False
        self.loading_model = True
        self.remember_model = remember
        return True

    def finish_model_load(self, path: Path, model: LoadedModel, engine: Engine,
                          threshold: float) -> list[str] | None:
        """The model at ``path`` is ready at ``threshold``; returns the inputs to analyse now.

        Those are what was asked for while loading, or, when the model changed,
        what is on screen (a new model re-analyses the shown batch).
        """
        self.loading_model = False
        previous = self.model_path
        self.model, self.engine, self.model_path = model, engine, Path(path)
        self.model_error = ""
        self.threshold = float(threshold)
        self._cases.clear()
        self.model_loaded.emit(model)
        rerun = self.queued_inputs
        if rerun is None and previous is not None and previous != self.model_path:
            rerun = self.last_inputs or None
        self.queued_inputs = None
        return rerun

    def fail_model_load(self, message: str) -> None:
        """The load failed; a model that worked before stays in use."""
        self.loading_model = False
        self.model_error = message
        self.model_failed.emit(message)

    # -- operating point --------------------------------------------------------------
    def set_threshold(self, threshold: float) -> None:
        """Re-decide every result (and the case on screen) at ``threshold``; no inference."""
        if self.model is None:
            return
        self.threshold = float(threshold)
        stats = self.model.metadata.benign_stats
        self.results.map_ok(lambda r: redecide(r, stats, threshold))
        if self.shown_case is not None:
            self.shown_case = (redecide(self.shown_case[0], stats, threshold), self.shown_case[1])
        self.threshold_changed.emit(self.threshold)

    # -- batches -------------------------------------------------------------------------
    def plan_open(self, items: list[str]) -> OpenPlan:
        """Decide what to do with a request to analyse ``items`` (queues it when it must wait)."""
        if not items:
            return OpenPlan.NOTHING
        if self.loading_model:
            self.queued_inputs = items
            return OpenPlan.WAIT_FOR_MODEL
        if self.engine is None:
            return OpenPlan.NO_MODEL
        if self.running:
            self.queued_inputs = items
            return OpenPlan.AFTER_BATCH
        return OpenPlan.START

    def start_batch(self, items: list[str]) -> int:
        """A new batch replaces the table; returns its id (results of older ids are dropped)."""
        self.batch_id += 1
        self.last_inputs = list(items)
        self.running = True
        self._pending.clear()
        self.shown_case = None
        self.results.clear()
        self.batch_started.emit(self.batch_id)
        return self.batch_id

    def accept_result(self, batch_id: int, result: AnalysisResult) -> None:
        """Keep ``result`` for the next :meth:`flush` unless it is from an old batch."""
        if batch_id == self.batch_id:
            self._pending.append(result)

    def flush(self) -> int:
        """Move the results received since the last flush into :attr:`results`; how many."""
        if not self._pending:
            return 0
        fresh, self._pending = self._pending, []
        if self.model is not None and self.threshold is not None:
            stats, thr = self.model.metadata.benign_stats, self.threshold
            # The operating point may have moved since the batch started.
            fresh = [r if r.threshold == thr else redecide(r, stats, thr) for r in fresh]
        self.results.add(fresh)
        return len(fresh)

    def finish_batch(self, batch_id: int, cancelled: bool) -> BatchEnd | None:
        """The batch ended; None when it was an old one. Takes the queued request."""
        if batch_id != self.batch_id:
            return None
        self.running = False
        self.flush()
        queued, self.queued_inputs = self.queued_inputs, None
        end = BatchEnd(batch_id, cancelled, self.results.counts(), queued)
        self.batch_finished.emit(end)
        return end

    # -- case images --------------------------------------------------------------------
    def _case_key(self, result: AnalysisResult) -> tuple[str, str]:
        return (self.model.sha256 if self.model is not None else "", str(result.path))

    def cached_case(self, result: AnalysisResult) -> CaseImages | None:
        """The case images of ``result`` when recently computed with this model."""
        images = self._cases.get(self._case_key(result))
        if images is not None:
            self._cases.move_to_end(self._case_key(result))
        return images

    def store_case(self, result: AnalysisResult, images: CaseImages) -> None:
        if self.model is None:
            return
        self._cases[self._case_key(result)] = images
        while len(self._cases) > CASE_CACHE_SIZE:
            self._cases.popitem(last=False)

    def begin_explain(self, result: AnalysisResult) -> bool:
        """True: compute ``result``'s images now. False: one is running; this one is next
        (the latest request wins, those in between are skipped)."""
        if self._explain_busy:
            self._explain_next = result
            return False
        self._explain_busy = True
        return True

    @property
    def explain_waiting(self) -> bool:
        """Another case was asked for while the running one was computed."""
        return self._explain_next is not None

    def end_explain(self) -> AnalysisResult | None:
        """The running computation ended; returns the case to compute next, if any."""
        self._explain_busy = False
        nxt, self._explain_next = self._explain_next, None
        return nxt

    def show_case(self, result: AnalysisResult, images: CaseImages | None) -> None:
        """Record what the case viewer shows (None: a message, not a case)."""
        self.shown_case = None if images is None else (result, images)

    @staticmethod
    def can_show(result: AnalysisResult) -> bool:
        return result.status == STATUS_OK

    # -- review -----------------------------------------------------------------------
    def is_reviewed(self, result: AnalysisResult) -> bool:
        """Marked reviewed in this folder (a mark on a copy elsewhere does not count)."""
        return self.reviews.reviewed_here(result.image_sha256, str(result.path.parent))

    def review_for(self, result: AnalysisResult) -> Review:
        """``result``'s review as it applies to this case: its mark only when made here,
        the note written in its folder only (a copy elsewhere is another patient's)."""
        review = self.reviews.get(result.image_sha256, str(result.path.parent))
        return review if self.is_reviewed(result) else replace(review, reviewed=False)

    def review_text(self, result: AnalysisResult) -> str:
        """The review column: "✓ reviewed", the note, both, or ""; a mark made on a copy in
        another folder says so: "reviewed 2026-11-30 in …/ward-2 (not here)"."""
        review = self.reviews.get(result.image_sha256, str(result.path.parent))
        if self.reviews.elsewhere(review, str(result.path.parent)):
            where = Path(review.where).name or review.where
            mark = f"reviewed {review.reviewed_at[:10]} in …/{where} (not here)"
        else:
            mark = "✓ reviewed" if review.reviewed else ""
        note = review.note.replace("\n", " ")
        return " · ".join(part for part in (mark, note) if part)
