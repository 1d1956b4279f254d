"""installers/check_gpu.py and the bundle launcher's `check-gpu`: real ONNX Runtime, real model."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.data import make_bad_files

REPO = Path(__file__).resolve().parents[2]
CHECK_GPU = REPO / "installers" / "check_gpu.py"
LAUNCHER = REPO / "installers" / "pyinstaller" / "launcher.py"

sys.path.insert(0, str(REPO / "installers"))
import check_gpu  # noqa: E402


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "installers")])}
    return subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=300, check=False)


def reported_provider(stdout: str) -> str:
    lines = [ln for ln in stdout.splitlines() if ln.startswith("provider running the model:")]
    assert len(lines) == 1, stdout
    return lines[0].split(":", 1)[1].split()[0]


def test_reports_the_provider_that_really_runs(small_model_path: Path) -> None:
    from desktop_app.core.model.model_file import load_model

    done = run(CHECK_GPU, "--model", small_model_path)

    assert done.returncode == 0, done.stderr
    provider = reported_provider(done.stdout)
    # The same answer the app gets when it opens the model.
    assert provider == load_model(small_model_path).provider
    assert "libcudnn.so.9" in done.stdout or "cudnn64_9.dll" in done.stdout
    verdict = next(ln for ln in done.stdout.splitlines() if ln.startswith("verdict:"))
    if provider == check_gpu.CPU:
        assert "CPU" in verdict or "no CUDA provider" in verdict
    else:
        assert "GPU" in verdict
    assert "Traceback" not in done.stderr


def test_require_cuda_fails_exactly_when_the_cpu_runs_it(small_model_path: Path) -> None:
    plain = run(CHECK_GPU, "--model", small_model_path)
    strict = run(CHECK_GPU, "--model", small_model_path, "--require-cuda")
    provider = reported_provider(plain.stdout)
    assert strict.returncode == (0 if provider == check_gpu.CUDA else 1)


@pytest.mark.parametrize("case", ["missing", "empty", "text", "folder"])
def test_unusable_model_is_a_clear_error(case: str, tmp_path: Path) -> None:
    bad = make_bad_files(tmp_path / "bad")
    paths = {
        "missing": tmp_path / "nowhere.onnx",
        "empty": bad["empty"].rename(tmp_path / "empty.onnx"),
        "text": bad["text"].rename(tmp_path / "notes.onnx"),
        "folder": bad["unreadable"],
    }
    done = run(CHECK_GPU, "--model", paths[case])
    assert done.returncode == 2
    assert str(paths[case]) in done.stderr
    assert done.stderr.startswith("error: cannot use the model")
    assert "Traceback" not in done.stderr


def test_launcher_dispatches_check_gpu_and_the_app(small_model_path: Path) -> None:
    """The bundle's entry point: `check-gpu` runs the check, anything else the app's CLI."""
    check = run(LAUNCHER, "check-gpu", "--model", small_model_path)
    assert check.returncode == 0, check.stderr
    assert reported_provider(check.stdout) in (check_gpu.CPU, check_gpu.CUDA)

    version = run(LAUNCHER, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.startswith("dermscreen ")


def test_library_names_follow_the_onnxruntime_build() -> None:
    linux = dict(check_gpu.cuda_library_names("13", windows=False))
    windows = dict(check_gpu.cuda_library_names("13", windows=True))
    assert {"libcudart.so.13", "libcublas.so.13", "libcudnn.so.9", "libcuda.so.1"} <= set(linux)
    assert {"cudart64_13.dll", "cublas64_13.dll", "cudnn64_9.dll", "nvcuda.dll"} <= set(windows)
    # CUDA 13 ships cuFFT 12; the provider asks for that soname.
    assert "libcufft.so.12" in linux


def test_verdict_names_what_is_missing() -> None:
    probes = [
        check_gpu.LibraryProbe("libcudart.so.13", "CUDA runtime", True, "loads"),
        check_gpu.LibraryProbe("libcudnn.so.9", "cuDNN 9", False, "not found"),
    ]
    assert check_gpu.explain(check_gpu.CUDA, probes, True).startswith("the CUDA provider")
    cpu = check_gpu.explain(check_gpu.CPU, probes, True)
    assert "libcudnn.so.9 (cuDNN 9)" in cpu
    assert "libcudart" not in cpu
    assert "no CUDA provider" in check_gpu.explain(check_gpu.CPU, probes, False)
    all_found = [check_gpu.LibraryProbe("libcudnn.so.9", "cuDNN 9", True, "loads")]
    assert "driver" in check_gpu.explain(check_gpu.CPU, all_found, True)
