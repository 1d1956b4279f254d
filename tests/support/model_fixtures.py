"""The tiny real training run exported to ONNX (real tf2onnx, real parity gate), and the
shipped cae2 model loaded once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

SMALL_MODEL_NAME = "DermScreen test CAE"
SMALL_MODEL_VERSION = "0.0.1"
# The same 1e-5 score gate as real models: SSIM's moments are centred
# (training/losses.py), so even a near-flat reconstruction stays within it.
SMALL_SCORE_TOL = 1e-5


def export_small_model(
    run_dir: Path,
    out_path: Path,
    *,
    score_tol: float = SMALL_SCORE_TOL,
    card: bool = True,
    extra_args: tuple[str, ...] = (),
) -> Path:
    """Export ``run_dir`` with the real `dermscreen-export` code path; returns the model path."""
    from export.cli import build_parser, run_export

    argv = [
        str(run_dir),
        "--out",
        str(out_path),
        "--name",
        SMALL_MODEL_NAME,
        "--version",
        SMALL_MODEL_VERSION,
        "--score-tol",
        repr(score_tol),
    ]
    if card:
        argv.append("--card")
    argv += extra_args
    return run_export(build_parser().parse_args(argv), say=lambda _msg: None)


@pytest.fixture(scope="session")
def small_model_path(small_run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``small_run_dir`` exported once per session: model.onnx, its .sha256 and model card."""
    out = tmp_path_factory.mktemp("small_model") / "dermscreen-small.onnx"
    return export_small_model(small_run_dir, out)


@pytest.fixture(scope="session")
def cae2():
    """The shipped benign-only model (dermscreen-cae2), loaded once for every test that reads it."""
    from desktop_app.core.base.paths import bundled_models_dir
    from desktop_app.core.model.model_file import load_model

    return load_model(bundled_models_dir() / "dermscreen-cae2.onnx")
