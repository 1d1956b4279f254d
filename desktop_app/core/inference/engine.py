"""Streaming batch analysis: worker pool -> batched ONNX Runtime -> results.

Files are read once, hashed, decoded and preprocessed on a thread pool (OpenCV,
Pillow and hashlib release the GIL, so threads keep every core busy without
pickling tensors to processes), gathered into batches for ONNX Runtime, and
each result is yielded as soon as its batch is scored. The pool's threads are
daemons (:class:`~desktop_app.core.base.workers.DaemonPool`): cancelling, or
closing the generator, returns at once even when a worker is stuck in a read.

Memory stays bounded whatever the folder size: at most ``window`` files are in
flight (being decoded or queued) and at most ``window + batch_size``
model-sized tensors wait for the model; each worker holds one file's bytes
(at most :data:`~desktop_app.core.imaging.regular_file.MAX_FILE_BYTES`) and one
decoded image (at most the pixel limit) at a time, there are never more
workers than cores, no decoded original is kept, and heatmaps are computed
only on demand (:meth:`Engine.explain`).

Qt-free: the GUI runs :meth:`Engine.analyze` on a worker thread, the CLI in the
main thread.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from desktop_app.core.base.errors import ImageChangedError, ImageError
from desktop_app.core.base.workers import DaemonPool
from desktop_app.core.imaging.dicom_case import DicomCase
from desktop_app.core.imaging.dicom_read import read_case
from desktop_app.core.imaging.imageio import (
    DEFAULT_MAX_PIXELS,
    ImageBytes,
    decode_image,
    read_file,
    scan_inputs,
)
from desktop_app.core.imaging.preprocess import (
    PreprocessConfig,
    decode_bytes_for_inputs,
    effective_max_pixels,
    preprocess_array,
    preprocess_inputs,
)
from desktop_app.core.inference.drift import ImageRanges, image_stats, reference_ranges
from desktop_app.core.inference.results import AnalysisResult, error_result, ok_result
from desktop_app.core.model.metadata import (
    INPUT_NAME,
    OUTPUT_ANOMALY_SCORE,
    OUTPUT_ERROR_MAP,
    OUTPUT_EVIDENCE_MAP,
    OUTPUT_PROBABILITY,
    OUTPUT_RECONSTRUCTION,
    OUTPUT_SCORE,
)
from desktop_app.core.model.score_stats import BenignStats

if TYPE_CHECKING:
    from desktop_app.core.model.model_file import LoadedModel

DISPLAY_MAX_SIDE = 1024
# How long the pipeline waits for a worker before re-checking cancellation.
_POLL_S = 0.05
# How long a cancelled or finished batch waits for a worker still on its last file.
WORKER_GRACE_S = 1.0
# A terminated model run returns within one operator; this only bounds a broken runtime.
MODEL_GRACE_S = 10.0


@dataclass
class Progress:
    """Where a running analysis stands."""

    done: int
    total: int
    errors: int
    elapsed_s: float
    eta_s: float | None


@dataclass
class CaseImages:
    """Images for one case, computed on demand (never kept for a whole batch)."""

    original: np.ndarray  # RGB uint8 for display, longest side <= 1024
    model_input: np.ndarray  # float32 [size, size, 3]: exactly what the model saw
    reconstruction: np.ndarray  # float32 [size, size, 3]
    error_map: np.ndarray  # float32 [size, size]
    score: float
    sha256: str = ""  # of the bytes these images were decoded from
    # A combined model's parts (None for a CAE alone): the classifier's evidence map
    # (logit units, [size, size]), its probability and the CAE's own score.
    evidence_map: np.ndarray | None = None
    probability: float | None = None
    anomaly_score: float | None = None


@dataclass
class _Prepared:
    """A file after the worker stage: a tensor, or the reason it has none."""

    index: int
    path: Path
    # One input's tensor, or every declared input's by name (a model with several inputs).
    tensor: np.ndarray | dict[str, np.ndarray] | None
    sha256: str
    error: str
    error_code: str
    seconds: float
    dicom: DicomCase | None = None
    flags: tuple[str, ...] = ()  # image statistics outside the reference ranges


def prepare_file(index: int, path: Path, cfg: PreprocessConfig | Mapping[str, PreprocessConfig],
                 ranges: ImageRanges | None = None) -> _Prepared:
    """Worker stage: read once, hash and preprocess the same bytes; never raises.

    ``cfg`` is one preprocessing (the tensor is an array) or every input's by name (the
    tensor is a dict: one decode, one resize chain per input).

    A file that cannot be read (missing, not a regular file, over the size
    limit) gets no hash; one that was read but does not decode keeps the hash
    of the bytes read. With ``ranges`` the cheap statistics of the preprocessed
    input (what the model sees) are checked against them (:mod:`desktop_app.core.inference.drift`;
    under a millisecond).
    """
    start = time.perf_counter()
    sha = ""
    case = None
    flags: tuple[str, ...] = ()
    try:
        blob = read_file(path)
        sha = blob.sha256
        # A DICOM input's case fields (header only), kept with its row, error rows too.
        case = read_case(blob)
        many = isinstance(cfg, Mapping)
        rgb = decode_bytes_for_inputs(blob, list(cfg.values()) if many else [cfg])
        tensor = preprocess_inputs(rgb, cfg) if many else preprocess_array(rgb, cfg)
        del rgb
        if ranges is not None:  # measured on what the model sees (its ``image`` input)
            flags = tuple(ranges.out_of_range(image_stats(tensor[INPUT_NAME] if many else tensor)))
    except ImageError as exc:
        return _Prepared(index, path, None, sha, exc.reason, exc.reason_code,
                         time.perf_counter() - start, case)
    except MemoryError:
        return _Prepared(index, path, None, sha, "not enough memory to process",
                         "too_large", time.perf_counter() - start, case)
    except Exception as exc:  # cv2.error, ValueError...: one bad file must not stop a batch
        return _Prepared(index, path, None, sha,
                         f"preprocessing failed ({type(exc).__name__}: {exc})",
                         "preprocess_failed", time.perf_counter() - start, case)
    return _Prepared(index, path, tensor, sha, "", "", time.perf_counter() - start, case, flags)


def stack_inputs(tensors: Sequence[np.ndarray | dict[str, np.ndarray]]
                 ) -> np.ndarray | dict[str, np.ndarray]:
    """A batch from prepared tensors: one array, or one array per input name."""
    first = tensors[0]
    if isinstance(first, dict):
        return {name: np.stack([t[name] for t in tensors]) for name in first}
    return np.stack(tensors)


def expand_inputs(
    inputs: Sequence[str | Path], recursive: bool = False
) -> list[tuple[Path, str]]:
    """Files to analyse as (path, listing error); each folder that cannot be listed gets a row."""
    return scan_inputs(list(inputs), recursive=recursive)


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask, e.g. under taskset or a container)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # no affinity API (Windows, macOS)
        return max(1, os.cpu_count() or 1)


def model_lanes(cpu_count: int | None = None) -> int:
    """Batches the engine scores at once, each on its own thread.

    Two on a multi-core machine: one ONNX Runtime run per core scales better than
    one run split over both cores (measured on 2 cores, batch 16: 12.6 CPU ms per
    image on one thread, 14.0 on two, the rest spent handing work between
    threads). Never more than two: each run holds its own activations (~100 MB
    at batch 16), so memory stays bounded on machines with many cores.
    """
    cores = cpu_count if cpu_count is not None else usable_cores()
    return min(2, max(1, cores))


def inference_threads(cpu_count: int | None = None) -> int:
    """ONNX Runtime intra-op threads to load a model with when the engine runs it.

    The cores shared among the :func:`model_lanes` runs: 1 on 2 cores, 8 on 16.
    The model loader turns ORT's spin-waiting off, so its threads sleep while the
    preprocessing workers run and the two share the cores.
    """
    cores = cpu_count if cpu_count is not None else usable_cores()
    return max(1, cores // model_lanes(cores))


class Engine:
    """Batch analysis with one loaded model."""

    def __init__(self, model: LoadedModel, *, workers: int | None = None, batch_size: int = 16) -> None:
        if batch_size < 1:
            msg = f"batch_size must be at least 1, got {batch_size}"
            raise ValueError(msg)
        self.model = model
        # Never more preprocessing threads than cores: more only add memory (one
        # decoded original each) and contention, never speed.
        cores = usable_cores()
        self.workers = min(cores, max(1, workers if workers is not None else cores))
        self.batch_size = batch_size
        # Files in flight at once: two batches, so the workers keep preparing
        # the next batch while one is scored (one batch of look-ahead left them
        # idle ~30% of the time). Not more: at three batches the heap kept
        # growing over a 3000-file run (glibc arena fragmentation), at two it
        # stays flat (measured: 336 MB after 500 and after 3000 files).
        self.window = max(2 * self.workers, 2 * self.batch_size)
        self.lanes = model_lanes(cores)
        # The ranges of the training images' statistics (None: this model has none).
        self.image_ranges = reference_ranges(model.sha256, model.metadata.extra)

    def _worker_config(self) -> PreprocessConfig | dict[str, PreprocessConfig]:
        """What :func:`prepare_file` makes: one tensor, or every declared input's by name."""
        configs = self.model.metadata.input_configs()
        return configs if len(configs) > 1 else self.model.metadata.preprocess

    @property
    def stats(self) -> BenignStats:
        return self.model.metadata.benign_stats

    @property
    def default_threshold(self) -> float:
        return float(self.model.metadata.threshold)

    def model_info(self) -> dict[str, Any]:
        """The model fields every result carries (name, version, SHA-256, provider, verified)."""
        meta = self.model.metadata
        return {
            "model_name": meta.model_name,
            "model_version": meta.model_version,
            "model_sha256": self.model.sha256,
            "model_verified": self.model.verified,
            "provider": self.model.provider_label,
        }

    def analyze(
        self,
        inputs: Sequence[str | Path],
        *,
        recursive: bool = False,
        threshold: float | None = None,
        progress: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> Iterator[AnalysisResult]:
        """Yield one result per file as soon as it is ready (``.index`` gives its position).

        On ``cancel`` the generator stops promptly and returns; results already
        yielded are the partial outcome. Bad files become error results.
        """
        start = time.perf_counter()
        entries = expand_inputs(inputs, recursive)
        total = len(entries)
        thr = self.default_threshold if threshold is None else float(threshold)
        cfg = self._worker_config()
        info = self.model_info()
        stats = self.stats
        # A combined model's part scores ride along (ONNX Runtime computes them anyway).
        parts = tuple(n for n in (OUTPUT_ANOMALY_SCORE, OUTPUT_PROBABILITY)
                      if self.model.has_output(n))
        counts = {"done": 0, "errors": 0}
        # Shared by this batch's model runs: a stop sets its terminate flag (see finally).
        run_options = self.model.run_options()

        def report() -> None:
            if progress is None:
                return
            elapsed = time.perf_counter() - start
            done = counts["done"]
            eta = elapsed / done * (total - done) if done else None
            progress(Progress(done, total, counts["errors"], elapsed, eta))

        def cancelled() -> bool:
            return cancel is not None and cancel.is_set()

        def count(result: AnalysisResult) -> AnalysisResult:
            # Called as each result is handed out, so progress matches what was yielded.
            counts["done"] += 1
            if not result.ok:
                counts["errors"] += 1
            report()
            return result

        def failed(item: _Prepared) -> AnalysisResult:
            return error_result(
                index=item.index, path=item.path, error=item.error, error_code=item.error_code,
                image_sha256=item.sha256, model_info=info, seconds=item.seconds,
                dicom=item.dicom,
            )

        def score_batch(batch: list[_Prepared]) -> list[AnalysisResult]:
            t0 = time.perf_counter()
            try:
                ran = self.model.run(stack_inputs([b.tensor for b in batch]),
                                     outputs=(OUTPUT_SCORE, *parts), run_options=run_options)
                scores = np.asarray(ran[OUTPUT_SCORE]).reshape(-1)
                part_values = {n: np.asarray(ran[n], dtype=np.float64).reshape(-1) for n in parts}
                if any(v.shape[0] != len(batch) for v in (scores, *part_values.values())):
                    msg = f"model returned {scores.shape[0]} scores for {len(batch)} images"
                    raise ValueError(msg)
            except Exception as exc:  # an inference failure becomes error rows, not a crash
                for b in batch:
                    b.error, b.error_code = f"inference failed ({exc})", "inference_failed"
                return [failed(b) for b in batch]
            share = (time.perf_counter() - t0) / len(batch)
            out = []
            for i, (b, s) in enumerate(zip(batch, scores, strict=True)):
                got = {n: float(v[i]) for n, v in part_values.items()}
                if not (np.isfinite(s) and all(np.isfinite(v) for v in got.values())):
                    b.error, b.error_code = "model produced a non-finite score", "inference_failed"
                    out.append(failed(b))
                    continue
                out.append(ok_result(
                    index=b.index, path=b.path, score=float(s), threshold=thr, stats=stats,
                    image_sha256=b.sha256, model_info=info, seconds=b.seconds + share,
                    anomaly_score=got.get(OUTPUT_ANOMALY_SCORE),
                    probability=got.get(OUTPUT_PROBABILITY),
                    dicom=b.dicom,
                    input_flags=b.flags,
                ))
            return out

        def scored(fut: Future[list[AnalysisResult]], batch: list[_Prepared]) -> list[AnalysisResult]:
            try:
                return fut.result()
            except Exception as exc:  # a scoring bug must not end the batch
                for b in batch:
                    b.error, b.error_code = f"internal error ({exc!r})", "inference_failed"
                return [failed(b) for b in batch]

        report()
        todo = iter(enumerate(entries))
        inflight: set[Future[_Prepared]] = set()
        submitted: dict[Future[_Prepared], tuple[int, Path]] = {}
        pending: list[_Prepared] = []
        # Batches being scored on the model lanes, with the items each holds.
        scoring: dict[Future[list[AnalysisResult]], list[_Prepared]] = {}
        pool = DaemonPool(self.workers, name="dermscreen-prep")
        model_pool = DaemonPool(self.lanes, name="dermscreen-model")
        try:
            exhausted = False
            while not cancelled():
                ready: list[AnalysisResult] = []
                # Tensors waiting for a lane count against the window too: memory stays bounded.
                while (not exhausted and len(inflight) < self.window
                       and len(inflight) + len(pending) < self.window + self.batch_size):
                    try:
                        index, (path, listing_error) = next(todo)
                    except StopIteration:
                        exhausted = True
                        break
                    if listing_error:
                        item = _Prepared(index, path, None, "", listing_error, "unreadable", 0.0)
                        ready.append(failed(item))
                    else:
                        fut = pool.submit(prepare_file, index, path, cfg, self.image_ranges)
                        inflight.add(fut)
                        submitted[fut] = (index, path)
                while (pending and len(scoring) < self.lanes
                       and (len(pending) >= self.batch_size or (not inflight and exhausted))):
                    batch, pending = pending[: self.batch_size], pending[self.batch_size :]
                    scoring[model_pool.submit(score_batch, batch)] = batch
                waiting = inflight | set(scoring)
                if waiting and not ready:
                    wait(waiting, timeout=_POLL_S, return_when=FIRST_COMPLETED)
                for fut in [f for f in inflight if f.done()]:
                    inflight.discard(fut)
                    index, path = submitted.pop(fut)
                    try:
                        item = fut.result()
                    except Exception as exc:  # a worker bug must not end the batch
                        item = _Prepared(index, path, None, "", f"internal error ({exc!r})",
                                         "preprocess_failed", 0.0)
                    if item.tensor is None:
                        ready.append(failed(item))
                    else:
                        pending.append(item)
                for fut in [f for f in scoring if f.done()]:
                    ready.extend(scored(fut, scoring.pop(fut)))
                for result in ready:
                    yield count(result)
                    if cancelled():
                        return
                if exhausted and not inflight and not pending and not scoring:
                    return
        finally:
            # Queued work is dropped. A running worker gets a moment to finish its one
            # file (a few ms to a few hundred), so no thread is still inside OpenCV or
            # ONNX Runtime when the process exits (Python ends such daemon threads with a
            # forced unwind through C++ frames: "terminate called", SIGABRT). A stuck one
            # (a read that never returns) is left behind after WORKER_GRACE_S. A model
            # run can take longer than that on a busy machine (a combined model's batch:
            # seconds), so it is told to stop: ONNX Runtime checks the terminate flag
            # between operators and returns at once; its batch becomes error rows nobody
            # reads any more.
            run_options.terminate = True
            pool.shutdown()
            model_pool.shutdown()
            pool.join(WORKER_GRACE_S)
            model_pool.join(MODEL_GRACE_S)

    def analyze_all(self, inputs: Sequence[str | Path], **kwargs: Any) -> list[AnalysisResult]:
        """:meth:`analyze` collected and sorted by input position."""
        return sorted(self.analyze(inputs, **kwargs), key=lambda r: r.index)

    def explain(self, path: str | Path, *, expected_sha256: str = "") -> CaseImages:
        """Reconstruction and error map for one file, read once (raises ImageError on a bad file).

        With ``expected_sha256`` (a result's ``image_sha256``) the bytes read
        must hash to it, else :class:`~desktop_app.core.base.errors.ImageChangedError`:
        a case report then shows exactly the pixels that were scored, checked on
        the same bytes it decodes (no window between a hash and a second read).
        """
        path = Path(path)
        cfg = self.model.metadata.preprocess
        blob = read_file(path)
        if expected_sha256 and blob.sha256 != expected_sha256.lower():
            raise ImageChangedError(path, "the file changed since it was analysed")
        configs = self.model.metadata.input_configs()
        tensors = preprocess_inputs(decode_bytes_for_inputs(blob, list(configs.values())), configs)
        model_input = tensors[INPUT_NAME]
        extra = tuple(n for n in (OUTPUT_EVIDENCE_MAP, OUTPUT_PROBABILITY, OUTPUT_ANOMALY_SCORE)
                      if self.model.has_output(n))
        outputs = self.model.run(
            {name: t[None] for name, t in tensors.items()},
            outputs=(OUTPUT_RECONSTRUCTION, OUTPUT_ERROR_MAP, OUTPUT_SCORE, *extra),
        )

        def scalar(name: str) -> float | None:
            return float(np.asarray(outputs[name]).reshape(-1)[0]) if name in outputs else None

        evidence = outputs.get(OUTPUT_EVIDENCE_MAP)
        return CaseImages(
            original=display_image_bytes(blob, effective_max_pixels(cfg)),
            model_input=model_input,
            reconstruction=np.asarray(outputs[OUTPUT_RECONSTRUCTION][0], dtype=np.float32),
            error_map=np.asarray(outputs[OUTPUT_ERROR_MAP][0], dtype=np.float32),
            score=float(np.asarray(outputs[OUTPUT_SCORE]).reshape(-1)[0]),
            sha256=blob.sha256,
            evidence_map=None if evidence is None else np.asarray(evidence[0], dtype=np.float32),
            probability=scalar(OUTPUT_PROBABILITY),
            anomaly_score=scalar(OUTPUT_ANOMALY_SCORE),
        )


def display_image(path: str | Path, max_pixels: int, max_side: int = DISPLAY_MAX_SIDE) -> np.ndarray:
    """The file as RGB uint8 for display, longest side at most ``max_side``."""
    return display_image_bytes(read_file(path), max_pixels, max_side)


def display_image_bytes(
    blob: ImageBytes, max_pixels: int, max_side: int = DISPLAY_MAX_SIDE
) -> np.ndarray:
    """File bytes as RGB uint8 for display, longest side at most ``max_side``."""
    limit = min(max_pixels, DEFAULT_MAX_PIXELS)  # a caller can tighten the limit, not loosen it
    rgb = decode_image(blob, max_pixels=limit, min_size=(max_side, max_side))
    height, width = rgb.shape[:2]
    if max(height, width) > max_side:
        scale = max_side / max(height, width)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(rgb)
