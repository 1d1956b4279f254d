"""The label mapping and the labelled-folder scan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from desktop_app.core.base.errors import UnknownClassError
from desktop_app.core.evaluation.dataset import scan_dataset
from desktop_app.core.evaluation.labels import (
    BENIGN_CLASSES,
    MALIGNANT_CLASSES,
    canonical_class,
    label_of,
)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("nevus", "benign"),
        ("Pigmented_Benign_Keratosis", "benign"),
        ("SEBORRHEIC KERATOSIS", "benign"),
        ("dermatofibroma", "benign"),
        ("vascular-lesion", "benign"),
        ("melanoma", "malignant"),
        ("basal cell carcinoma", "malignant"),
        ("Squamous_cell_carcinoma", "malignant"),
        ("actinic  keratosis", "malignant"),
    ],
)
def test_label_mapping(name: str, label: str) -> None:
    assert label_of(name) == label


def test_classes_are_disjoint_and_complete() -> None:
    assert not set(BENIGN_CLASSES) & set(MALIGNANT_CLASSES)
    assert len(BENIGN_CLASSES) == 5 and len(MALIGNANT_CLASSES) == 4


def test_unknown_class_refused_with_clear_message() -> None:
    with pytest.raises(UnknownClassError, match=r"unknown class folder 'freckle'.*nevus"):
        canonical_class("freckle")


def test_scan_real_isic_layout(isic9_dir: Path) -> None:
    samples = scan_dataset(isic9_dir)
    test = [s for s in samples if s.split == "Test"]
    assert len(samples) == 2359
    assert len(test) == 118
    assert sum(s.label == "malignant" for s in test) == 64
    assert sum(s.label == "benign" for s in test) == 54
    assert {s.cls for s in samples} == set(BENIGN_CLASSES) | set(MALIGNANT_CLASSES)
    assert scan_dataset(isic9_dir) == samples  # stable order


def test_scan_flat_folder_with_underscores_and_case(tmp_path: Path, isic9_dir: Path) -> None:
    for folder, src in [("Basal_Cell_Carcinoma", "Test/basal cell carcinoma"), ("NEVUS", "Test/nevus")]:
        (tmp_path / folder).mkdir()
        for f in sorted((isic9_dir / src).glob("*.jpg"))[:3]:
            shutil.copy(f, tmp_path / folder / f.name)
    (tmp_path / "NEVUS" / "readme.txt").write_text("not an image")
    samples = scan_dataset(tmp_path)
    assert len(samples) == 6
    assert {s.split for s in samples} == {""}
    assert {(s.cls, s.label) for s in samples} == {
        ("basal cell carcinoma", "malignant"),
        ("nevus", "benign"),
    }


def test_scan_refuses_unknown_class(tmp_path: Path) -> None:
    (tmp_path / "Train" / "freckles").mkdir(parents=True)
    with pytest.raises(UnknownClassError, match="freckles"):
        scan_dataset(tmp_path)


def test_scan_refuses_empty_or_missing(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        scan_dataset(tmp_path / "missing")
    with pytest.raises(UnknownClassError, match="no labelled images"):
        scan_dataset(tmp_path)
