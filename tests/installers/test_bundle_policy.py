"""What the bundle may not contain, the post-build check that enforces it, and the SBOM."""

from __future__ import annotations

import sys
from pathlib import Path

from desktop_app.core.base.paths import DEFAULT_MODEL_NAME

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "installers"))

import bundle_policy as bp  # noqa: E402
import sbom  # noqa: E402
import verify_bundle  # noqa: E402


def touch(root: Path, *relative: str) -> None:
    for rel in relative:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")


def test_the_spec_excludes_the_training_stack() -> None:
    required = {"tensorflow", "tf2onnx", "onnx", "matplotlib", "training", "export", "keras"}
    assert required <= set(bp.FORBIDDEN_MODULES)
    spec = (REPO / "installers" / "pyinstaller" / "dermscreen.spec").read_text(encoding="utf-8")
    assert "excludes=list(FORBIDDEN_MODULES)" in spec
    assert "upx=True" not in spec and spec.count("upx=False") >= 2


def test_forbidden_paths_finds_packages_and_native_libraries(tmp_path: Path) -> None:
    touch(
        tmp_path,
        "dermscreen",
        "_internal/tensorflow/__init__.pyc",
        "_internal/onnx/onnx_cpp2py_export.so",
        "_internal/tf2onnx-1.17.0.dist-info/METADATA",
        "_internal/some/deep/libtensorflow_framework.so.2",
        "_internal/onnxruntime/capi/libonnxruntime.so.1.31.1",
        "_internal/onnxruntime_gpu-1.31.1.dist-info/METADATA",
        "_internal/pyqtgraph/exporters/Exporter.pyc",
        "_internal/resources/models/dermscreen-reference.onnx",
    )
    assert bp.forbidden_paths(tmp_path) == [
        "_internal/onnx",
        "_internal/some/deep/libtensorflow_framework.so.2",
        "_internal/tensorflow",
        "_internal/tf2onnx-1.17.0.dist-info",
    ]


def test_forbidden_modules_checks_top_level_packages_only() -> None:
    names = ["tensorflow.python.ops", "onnx", "onnxruntime.capi", "training.fit", "export.cli",
             "desktop_app.reports.export", "pyqtgraph.exporters.Matplotlib", "matplotlib.pyplot"]
    assert bp.forbidden_modules(names) == [
        "export.cli", "matplotlib.pyplot", "onnx", "tensorflow.python.ops", "training.fit"]


def test_cuda_libraries_are_told_apart() -> None:
    toolkit = ["libcudart.so.13", "libcublasLt.so.13", "libcudnn_ops.so.9", "cudnn64_9.dll",
               "cudart64_13.dll", "libnvrtc-builtins.so.13.0", "libcuda.so.1"]
    app = ["libQt6Core.so.6", "libicudata.so.73", "cv2/cv2.abi3.so",
           "onnxruntime/capi/libonnxruntime.so.1.31.1"]
    assert all(bp.is_cuda_toolkit_library(n) for n in toolkit)
    assert not any(bp.is_cuda_toolkit_library(n) for n in app)
    assert bp.is_cuda_provider_library("onnxruntime/capi/libonnxruntime_providers_cuda.so")
    assert bp.is_cuda_provider_library("onnxruntime\\capi\\onnxruntime_providers_tensorrt.dll")
    assert not bp.is_cuda_provider_library("onnxruntime/capi/libonnxruntime_providers_shared.so")


def test_verify_bundle_names_what_a_bundle_lacks(tmp_path: Path) -> None:
    touch(tmp_path, "_internal/PySide6/QtCore.abi3.so")
    assert verify_bundle.DEFAULT_MODEL == DEFAULT_MODEL_NAME  # the app's own default
    assert verify_bundle.required_missing(tmp_path) == [
        f"_internal/resources/models/{DEFAULT_MODEL_NAME}",
        "_internal/onnxruntime/capi (ONNX Runtime library)",
    ]
    touch(tmp_path, f"_internal/resources/models/{DEFAULT_MODEL_NAME}",
          "_internal/onnxruntime/capi/libonnxruntime.so.1.31.1")
    assert verify_bundle.required_missing(tmp_path) == []


def test_verify_bundle_refuses_a_folder_without_executable(tmp_path: Path, capsys) -> None:
    assert verify_bundle.main([str(tmp_path)]) == 2
    assert "no bundle executable" in capsys.readouterr().err


def test_sbom_enrich_adds_licences_edges_and_the_bootloader() -> None:
    bom = {
        "metadata": {"component": {"bom-ref": "root-component", "name": "dermscreen"}},
        "components": [
            {"bom-ref": "requirements-L6", "name": "numpy", "version": "2.4.6",
             "description": "requirements line 6: numpy==2.4.6"},
            {"bom-ref": "requirements-L9", "name": "pyqtgraph", "version": "0.14.0"},
        ],
        "dependencies": [{"ref": "root-component"}],
    }
    out = sbom.enrich(bom, pyinstaller_version="6.22.3")
    numpy = out["components"][0]
    assert "description" not in numpy
    assert numpy["licenses"][0]["expression"].startswith("BSD-3-Clause")
    assert out["components"][1]["licenses"] == [{"expression": "MIT"}]
    weights, peer, boot = out["components"][-3:]
    assert (boot["name"], boot["version"]) == ("pyinstaller", "6.22.3")
    # The combined model's ImageNet backbone weights are a component with their licence.
    assert weights["type"] == "machine-learning-model"
    assert weights["licenses"] == [{"expression": "Apache-2.0"}]
    # So are the derm model's dermoscopy Xception weights (sklesion 0.2.2, MIT).
    assert (peer["type"], peer["name"], peer["version"]) == ("machine-learning-model",
                                                             "sklesion", "0.2.2")
    assert peer["licenses"] == [{"expression": "MIT"}]
    root = next(d for d in out["dependencies"] if d["ref"] == "root-component")
    assert root["dependsOn"] == ["requirements-L6", "requirements-L9", weights["bom-ref"],
                                 peer["bom-ref"], boot["bom-ref"]]
    assert {d["ref"] for d in out["dependencies"]} == {"root-component", *root["dependsOn"]}


def test_sbom_licence_entries() -> None:
    assert sbom.license_entry("MIT") == {"expression": "MIT"}
    assert sbom.license_entry("LGPL-3.0-only OR GPL-2.0-only") == {
        "expression": "LGPL-3.0-only OR GPL-2.0-only"}
    assert sbom.license_entry("BSD License") == {"license": {"name": "BSD License"}}


def test_verify_bundle_names_missing_app_modules() -> None:
    complete = [*verify_bundle.REQUIRED_MODULES, "desktop_app.gui.shell.main_window", "numpy"]
    assert verify_bundle.modules_missing(complete) == []
    partial = [m for m in complete if m not in ("desktop_app.cli", "desktop_app.gui.shell.main_window")]
    assert verify_bundle.modules_missing(partial) == [
        "module desktop_app.cli", "modules desktop_app.gui.*"]
