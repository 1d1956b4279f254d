"""Open a model and its Engine off the GUI thread; start it before the window is built.

Qt-free and cheap to import: ``run_gui`` starts :func:`start_preload` first, so
ONNX Runtime loads the model while Qt, pyqtgraph and the window are set up.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import LoadedModel


def load_model_and_engine(path: str | Path) -> tuple[LoadedModel, Engine]:
    """(LoadedModel, Engine) for ``path``; raises the ModelError subclasses of load_model."""
    from desktop_app.core.inference.engine import Engine, inference_threads
    from desktop_app.core.model.model_file import load_model

    model = load_model(path, intra_op_threads=inference_threads())
    return model, Engine(model)


class ModelPreload:
    """A model being loaded in a background thread, for one path."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="dermscreen-preload")
        self.future: Future[tuple[LoadedModel, Engine]] = pool.submit(load_model_and_engine, self.path)
        pool.shutdown(wait=False)

    def result(self) -> tuple[LoadedModel, Engine]:
        """Wait for the load; re-raises its error."""
        return self.future.result()


def start_preload(path: str | Path) -> ModelPreload:
    return ModelPreload(path)
