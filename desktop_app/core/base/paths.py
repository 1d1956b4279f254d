"""Where DermScreen finds its resources, user models, settings and logs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

# Issue 34, by rule: paired pooled AUROC gain over dermscreen-combined with a 95% CI above
# zero, no evaluation site worse beyond noise, and the whole process at least 2x the method's
# own pipeline (docs/ACCURACY.md, docs/SPEED.md). The slower, more accurate dermscreen-derm,
# the combined model, cae2 and the reference stay in the Model menu.
DEFAULT_MODEL_NAME = "dermscreen-derm-fast.onnx"
SIDECAR_SUFFIX = ".sha256"


def resources_dir() -> Path:
    """The bundled ``resources/`` folder (repo checkout or PyInstaller bundle)."""
    override = os.environ.get("DERMSCREEN_RESOURCES")
    if override:
        return Path(override)
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[3] / "resources"  # desktop_app/core/base/ -> repo


def bundled_models_dir() -> Path:
    return resources_dir() / "models"


def default_model_path() -> Path:
    """The model `make run` opens when none is named."""
    override = os.environ.get("DERMSCREEN_MODEL")
    return Path(override) if override else bundled_models_dir() / DEFAULT_MODEL_NAME


def user_data_dir() -> Path:
    """Per-user folder for user models and logs (DERMSCREEN_HOME overrides, e.g. in tests)."""
    override = os.environ.get("DERMSCREEN_HOME")
    if override:
        return Path(override)
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "DermScreen"
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "dermscreen"


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def log_dir() -> Path:
    return user_data_dir() / "logs"


def model_card_path(model_path: str | Path) -> Path:
    """The model card of ``MODEL.onnx``: ``MODEL.md`` beside it (export writes it, About reads it)."""
    return Path(model_path).with_suffix(".md")


def sidecar_path(path: str | Path) -> Path:
    """``MODEL.onnx.sha256`` beside ``MODEL.onnx``."""
    path = Path(path)
    return path.with_name(path.name + SIDECAR_SUFFIX)
