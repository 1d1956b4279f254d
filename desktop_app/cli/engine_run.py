"""Load the model and run the engine for a CLI command: progress bar, stop on a signal."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from desktop_app.cli.interrupt import StopOnSignal
from desktop_app.cli.progress import ProgressBar
from desktop_app.cli.terminal import err, warn
from desktop_app.core.base.paths import default_model_path
from desktop_app.core.wording.text_safety import terminal_safe
from desktop_app.core.wording.texts import unverified_model_note

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.inference.results import AnalysisResult
    from desktop_app.core.model.model_file import LoadedModel


def capped_workers(requested: int | None) -> int | None:
    """``--workers`` capped at the core count; says so on stderr when it caps."""
    from desktop_app.core.inference.engine import usable_cores

    cores = usable_cores()
    if requested is None or requested <= cores:
        return requested
    # More preprocessing threads than cores only add memory (one image each).
    warn(f"--workers {requested} capped at {cores} (the CPU cores available)")
    return cores


def load_model_quietly(model_arg: str | None) -> LoadedModel:
    """The named model, or the bundled one; raises ModelError."""
    import onnxruntime as ort

    from desktop_app.core.inference.engine import inference_threads
    from desktop_app.core.model.model_file import load_model

    # A CPU-only machine with onnxruntime-gpu logs a CUDA library error while
    # falling back to the CPU; on a terminal that reads like a failure.
    ort.set_default_logger_severity(4)
    path = Path(model_arg) if model_arg else default_model_path()
    return load_model(path, intra_op_threads=inference_threads())


@dataclass
class EngineRun:
    """A finished (or stopped) engine pass."""

    engine: Engine
    results: list[AnalysisResult]  # sorted by input position
    total: int  # files found; more than len(results) when stopped
    stopped: bool



def load_model_or_say(model_arg: str | None) -> LoadedModel | None:
    """The named (or bundled) model; None after saying why it is invalid. An unverified
    model loads with a warning."""
    from desktop_app.core.base.errors import ModelError

    try:
        model = load_model_quietly(model_arg)
    except ModelError as exc:
        err(f"invalid model: {terminal_safe(exc)}")
        return None
    if not model.verified:
        warn(terminal_safe(unverified_model_note(model.path.name)))
    return model

def run_engine(
    model: LoadedModel, paths: Sequence[str], *, recursive: bool, threshold: float,
    workers: int | None, stop: StopOnSignal,
) -> EngineRun:
    """Run the engine with a progress bar until done or ``stop`` fires; keeps what is done."""
    from desktop_app.core.inference.engine import Engine

    engine = Engine(model, workers=workers)
    bar = ProgressBar(sys.stderr)
    total = [0]

    def progress(p: object) -> None:
        total[0] = getattr(p, "total", 0)
        bar(p)  # type: ignore[arg-type]

    results: list[AnalysisResult] = []
    try:
        for result in engine.analyze(paths, recursive=recursive, threshold=threshold,
                                     progress=progress, cancel=stop.event):
            results.append(result)
    except KeyboardInterrupt:  # a second signal: stop now, keep what is done
        stop.stop()
    finally:
        bar.close()
    results.sort(key=lambda r: r.index)
    # A signal that came after the last file leaves a complete batch.
    stopped = stop.stopped and len(results) < total[0]
    return EngineRun(engine, results, total[0], stopped)
