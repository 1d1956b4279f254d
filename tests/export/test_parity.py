"""The parity gate's comparison rules and its choice of real images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from desktop_app.core.evaluation.labels import canonical_class
from desktop_app.core.imaging.preprocess import PreprocessConfig
from export.parity import (
    MAP_TOL,
    RECON_TOL,
    SCORE_TOL,
    ParityError,
    compare,
    load_parity_images,
    outputs_as_dict,
    select_parity_files,
)


def _outputs(n: int = 3, value: float = 0.5) -> dict[str, np.ndarray]:
    return {
        "reconstruction": np.full((n, 8, 8, 3), value, np.float32),
        "error_map": np.full((n, 8, 8), value, np.float32),
        "score": np.full((n,), value, np.float32),
    }


def test_defaults_are_the_specified_gates() -> None:
    assert SCORE_TOL == 1e-5
    assert RECON_TOL == 1e-4
    assert MAP_TOL >= RECON_TOL


def test_equal_outputs_pass_and_differences_are_measured() -> None:
    ref, got = _outputs(), _outputs()
    assert compare(ref, got).passed
    got["score"][1] += 2e-5
    got["reconstruction"][0, 0, 0, 0] += 5e-5
    report = compare(ref, got)
    assert report.max_abs["score"] == pytest.approx(2e-5, rel=1e-2)
    assert report.max_abs["reconstruction"] == pytest.approx(5e-5, rel=1e-2)
    assert not report.passed  # the score is over 1e-5
    assert compare(ref, got, score_tol=1e-4).passed
    assert "score" in report.describe() and "limit" in report.describe()


def test_nan_never_passes() -> None:
    got = _outputs()
    got["score"][0] = np.nan
    report = compare(_outputs(), got, score_tol=1.0)
    assert report.max_abs["score"] == float("inf")
    assert not report.passed


def test_shape_mismatch_is_a_parity_failure() -> None:
    with pytest.raises(ParityError, match="shape"):
        compare(_outputs(3), _outputs(2))


def test_outputs_by_name_from_list_or_dict() -> None:
    class Named:
        output_names = ("score", "reconstruction", "error_map")

    vals = _outputs()
    as_list = [vals["score"], vals["reconstruction"], vals["error_map"]]
    assert set(outputs_as_dict(Named(), as_list)) == {"score", "reconstruction", "error_map"}
    with pytest.raises(ValueError, match="lacks"):
        outputs_as_dict(Named(), {"score": vals["score"]})


def test_parity_images_span_the_test_classes(isic9_dir: Path) -> None:
    files = select_parity_files(isic9_dir, 16)
    assert len(files) == len(set(files)) == 16
    assert files == select_parity_files(isic9_dir, 16)  # deterministic
    assert all(f.parent.parent.name == "Test" for f in files)
    assert len({canonical_class(f.parent.name) for f in files}) >= 6
    batch = load_parity_images(files[:3], PreprocessConfig())
    assert batch.shape == (3, 128, 128, 3) and batch.dtype == np.float32
    assert batch.min() >= 0.0 and batch.max() <= 1.0


def test_no_test_images_is_an_error(isic9_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "Train" / "nevus").mkdir(parents=True)
    src = next(iter(sorted(isic9_dir.glob("Train/nevus/*.jpg"))))
    (tmp_path / "Train" / "nevus" / "a.jpg").write_bytes(src.read_bytes())
    with pytest.raises(ValueError, match="no Test images"):
        select_parity_files(tmp_path)
