"""Shared set-up for the CLI tests: the bundled model, real images, the CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
from desktop_app.core.model.model_file import LoadedModel, load_model
from tests.support.data import REPO, make_bad_files

# The files make_bad_files writes that are image names, and the reason each one gets
# (its folder named folder.jpg is a folder, not a file: it gets no row).
BAD_CODES = {
    "bomb.png": "too_large",
    "empty.jpg": "empty_file",
    "lesion.gif": "unsupported_format",  # an image format DermScreen does not read: a row says so
    "notes.jpg": "not_an_image",
    "truncated.jpg": "truncated",
}


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The product's bundled reference model (real ONNX, no training needed)."""
    path = bundled_models_dir() / DEFAULT_MODEL_NAME
    if not path.is_file():
        pytest.fail(f"bundled model missing: {path}")
    return path


@pytest.fixture(scope="session")
def model(model_path: Path) -> LoadedModel:
    return load_model(model_path, prefer_gpu=False)


@pytest.fixture(scope="session")
def good_files(isic9_test_files: list[Path], fullres_files: list[Path]) -> list[Path]:
    """One Test image per class and two full-resolution originals."""
    by_class: dict[str, Path] = {}
    for f in isic9_test_files:
        by_class.setdefault(f.parent.name, f)
    return [*by_class.values(), *fullres_files[:2]]


@pytest.fixture(scope="session")
def bad_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("bad") / "bad files"
    make_bad_files(folder)
    return folder


def cli_env(**overrides: str) -> dict[str, str]:
    """The environment for a CLI subprocess: this checkout first on the path."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.update(overrides)
    return env


def cli_argv(*args: str | Path) -> list[str]:
    """``python -m desktop_app.cli ARGS`` with this interpreter."""
    return [sys.executable, "-m", "desktop_app.cli", *map(str, args)]


def run_cli_process(*args: str | Path, timeout: float = 600,
                    env: dict[str, str] | None = None, **kwargs: object
                    ) -> subprocess.CompletedProcess[str]:
    """Run the real CLI in a child process and wait for it (the timeout only guards a hang)."""
    return subprocess.run(cli_argv(*args), capture_output=True, text=True, timeout=timeout,
                          check=False, cwd=REPO, env=env or cli_env(), **kwargs)  # type: ignore[arg-type]
