"""A model whose ``extra.image_ranges`` holds NaN or Infinity is refused, naming the field
(issue 33): before, NaN was dropped silently (and the warning said the model had no ranges)
and ``n = Infinity`` raised OverflowError once analysis started."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from desktop_app.core.base.paths import bundled_models_dir, resources_dir
from desktop_app.core.imaging.imageio import file_sha256
from desktop_app.core.inference.drift import RANGES_FILE

REPO = Path(__file__).resolve().parents[4]
CAE2 = bundled_models_dir() / "dermscreen-cae2.onnx"


def _with_ranges(tmp_path: Path, edit: object) -> Path:
    """cae2 with its real ranges (from resources/image_ranges.json) in metadata extra, edited."""
    onnx = pytest.importorskip("onnx")
    table = json.loads((resources_dir() / RANGES_FILE).read_text(encoding="utf-8"))
    ranges = json.loads(json.dumps(table[file_sha256(CAE2)]))
    edit(ranges)  # type: ignore[operator]
    proto = onnx.load(str(CAE2))
    for prop in proto.metadata_props:
        if prop.key == "dermscreen.extra":
            extra = json.loads(prop.value)
            extra["image_ranges"] = ranges
            prop.value = json.dumps(extra, allow_nan=True)  # "NaN", "Infinity" as a tool writes
    out = tmp_path / "poisoned.onnx"
    onnx.save(proto, str(out))
    return out


@pytest.mark.parametrize(("edit", "field"), [
    (lambda r: r.__setitem__("n", float("inf")), "extra.image_ranges.n must be a count"),
    (lambda r: r["stats"]["mean_r"].__setitem__("p005", float("nan")),
     "extra.image_ranges.stats.mean_r must hold finite numbers"),
    (lambda r: r["stats"]["aspect"].__setitem__("p995", float("-inf")),
     "extra.image_ranges.stats.aspect must hold finite numbers"),
    (lambda r: r["stats"].pop("sharpness"), "extra.image_ranges.stats.sharpness is missing"),
])
def test_broken_image_ranges_refuse_the_model(tmp_path: Path, isic9_test_files: list[Path],
                                              edit: object, field: str) -> None:
    model = _with_ranges(tmp_path, edit)
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", "analyse", str(isic9_test_files[0]), "--out",
         str(tmp_path / "out"), "--model", str(model)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert done.returncode == 3, done.stderr
    assert field in done.stderr
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert not (tmp_path / "out" / "results.csv").exists()


def test_intact_ranges_in_metadata_are_used(tmp_path: Path, isic9_test_files: list[Path]) -> None:
    model = _with_ranges(tmp_path, lambda r: None)
    done = subprocess.run(
        [sys.executable, "-m", "desktop_app.cli", "analyse", str(isic9_test_files[0]), "--out",
         str(tmp_path / "out"), "--model", str(model)],
        capture_output=True, text=True, timeout=300, check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "per-image drift checks are off" not in done.stderr
