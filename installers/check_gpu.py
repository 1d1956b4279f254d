"""Say which ONNX Runtime provider really runs the DermScreen model here, and why.

    python installers/check_gpu.py [--model FILE] [--require-cuda]
    dermscreen check-gpu [--model FILE] [--require-cuda]        (in the PyInstaller bundle)

The model is opened exactly as the app opens it (``desktop_app.core.model.model_file.load_model``,
CUDA first, CPU fallback); only afterwards are the CUDA libraries probed one by one to
explain the outcome, so the probe cannot change what the app would do.

Exit status: 0 the model loads (on whatever provider), 1 ``--require-cuda`` was given and
the CPU runs it, 2 the model cannot be used.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


@dataclass(frozen=True)
class LibraryProbe:
    """One shared library the CUDA provider needs, and whether this process can load it."""

    name: str
    role: str
    found: bool
    detail: str


def cuda_library_names(cuda_major: str, windows: bool) -> list[tuple[str, str]]:
    """(file name, role) of what onnxruntime-gpu's CUDA provider loads, for this build.

    Linux names come from the provider's ELF NEEDED entries plus the libraries ONNX
    Runtime loads at run time (cuDNN, cuFFT, NVRTC); Windows names follow the same
    components (CUDA 13 keeps cuFFT at major 12).
    """
    cufft = "12" if cuda_major == "13" else "11"
    if windows:
        return [
            ("nvcuda.dll", "NVIDIA driver"),
            (f"cudart64_{cuda_major}.dll", "CUDA runtime"),
            (f"cublasLt64_{cuda_major}.dll", "cuBLASLt"),
            (f"cublas64_{cuda_major}.dll", "cuBLAS"),
            ("curand64_10.dll", "cuRAND"),
            (f"cufft64_{cufft}.dll", "cuFFT"),
            ("cudnn64_9.dll", "cuDNN 9"),
        ]
    return [
        ("libcuda.so.1", "NVIDIA driver"),
        (f"libcudart.so.{cuda_major}", "CUDA runtime"),
        (f"libcublasLt.so.{cuda_major}", "cuBLASLt"),
        (f"libcublas.so.{cuda_major}", "cuBLAS"),
        ("libcurand.so.10", "cuRAND"),
        (f"libcufft.so.{cufft}", "cuFFT"),
        ("libcudnn.so.9", "cuDNN 9"),
    ]


def probe_libraries(names: list[tuple[str, str]]) -> list[LibraryProbe]:
    """Try to load each library by name, as the dynamic loader would for ONNX Runtime."""
    probes = []
    for name, role in names:
        try:
            ctypes.CDLL(name)
        except OSError as exc:
            # A frozen app's ctypes hook replaces the loader's message with a hint about
            # freezing, which would mislead here: the library belongs to the workstation.
            reason = "not found on the library search path"
            if not getattr(sys, "frozen", False) and "No such file" not in str(exc):
                reason = str(exc)
            probes.append(LibraryProbe(name, role, False, reason))
        else:
            probes.append(LibraryProbe(name, role, True, "loads"))
    return probes


def driver_version() -> str:
    """The NVIDIA driver version from nvidia-smi, or why it is unknown."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "unknown (nvidia-smi not found: no NVIDIA driver installed?)"
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown (nvidia-smi failed: {exc})"
    text = out.stdout.strip() or out.stderr.strip()
    return text.replace("\n", "; ") if text else "unknown (nvidia-smi printed nothing)"


def nvidia_wheels() -> list[str]:
    """NVIDIA CUDA/cuDNN pip packages installed beside ONNX Runtime (name==version)."""
    from importlib import metadata

    found = []
    for dist in metadata.distributions():
        name = dist.metadata.get("Name", "")
        if name.lower().startswith("nvidia-"):
            found.append(f"{name}=={dist.version}")
    return sorted(set(found))


def explain(provider: str, probes: list[LibraryProbe], cuda_listed: bool) -> str:
    """One sentence: why this provider runs."""
    if provider == CUDA:
        return "the CUDA provider runs the model on the GPU"
    if not cuda_listed:
        return "this ONNX Runtime build has no CUDA provider (CPU-only package?)"
    missing = [f"{p.name} ({p.role})" for p in probes if not p.found]
    if missing:
        return "CUDA libraries missing, so the CPU runs the model: " + ", ".join(missing)
    return ("every CUDA library loads, yet the CUDA provider did not start "
            "(no GPU visible, or driver too old for this CUDA version)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="dermscreen check-gpu",
        description="Show which ONNX Runtime provider runs the DermScreen model, and why.",
    )
    parser.add_argument("--model", type=Path, help="ONNX model (default: the bundled model)")
    parser.add_argument("--require-cuda", action="store_true",
                        help="exit 1 when the model runs on the CPU")
    args = parser.parse_args(argv)

    import onnxruntime as ort

    from desktop_app.core.base import paths
    from desktop_app.core.base.errors import DermScreenError
    from desktop_app.core.model.model_file import load_model

    try:
        from onnxruntime.capi.build_and_package_info import cuda_version
    except ImportError:  # CPU-only onnxruntime builds lack this module
        cuda_version = ""
    cuda_major = (cuda_version or "13").split(".")[0]
    available = ort.get_available_providers()
    print(f"onnxruntime {ort.__version__} ({ort.get_device()} build, CUDA {cuda_version or '-'})")
    print(f"providers compiled in: {', '.join(available)}")
    print("  (onnxruntime-gpu lists CUDA here even without a GPU; the line below is what runs)")

    model_path = args.model or paths.default_model_path()
    try:
        model = load_model(model_path)
    except DermScreenError as exc:
        print(f"error: cannot use the model: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot read the model {model_path}: {exc}", file=sys.stderr)
        return 2
    session_providers = model.session.get_providers()
    print(f"model: {model.path} ({model.display_name}, sha256 {model.short_sha})")
    print(f"provider running the model: {model.provider} (session: {', '.join(session_providers)})")

    probes = probe_libraries(cuda_library_names(cuda_major, sys.platform == "win32"))
    print(f"NVIDIA driver: {driver_version()}")
    wheels = nvidia_wheels()
    print(f"NVIDIA pip packages: {', '.join(wheels) if wheels else 'none'}")
    if wheels and sys.platform != "win32":
        print("  (on Linux they are found only through LD_LIBRARY_PATH; see docs/INSTALL.md)")
    print(f"CUDA {cuda_major} / cuDNN 9 libraries:")
    for probe in probes:
        state = "found  " if probe.found else "MISSING"
        print(f"  {state} {probe.name:24s} {probe.role:14s} {probe.detail}")
    print(f"verdict: {explain(model.provider, probes, CUDA in available)}")
    if args.require_cuda and model.provider != CUDA:
        return 1
    return 0


if __name__ == "__main__":
    # Run from a checkout (python installers/check_gpu.py): make desktop_app importable.
    repo = Path(__file__).resolve().parents[1]
    if (repo / "desktop_app").is_dir() and str(repo) not in sys.path:
        sys.path.insert(0, str(repo))
    raise SystemExit(main())
