"""The label mapping and the labelled-folder scan."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from desktop_app.core.base.errors import UnknownClassError
from desktop_app.core.evaluation.dataset import read_labels_csv, scan_dataset
from desktop_app.core.evaluation.labels import (
    BENIGN_CLASSES,
    MALIGNANT_CLASSES,
    canonical_class,
    label_and_diagnosis,
    label_of,
)
from tests.support.data import DATA


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


# ----- a clinic's folders (issue 30): benign/ and malignant/, diagnosis codes, a labels file ---


def _copy(sources: list[Path], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for src in sources:
        shutil.copy(src, folder / src.name)
        out.append(folder / src.name)
    return out


@pytest.mark.parametrize(
    ("code", "cls", "label"),
    [("nv", "nevus", "benign"), ("MEL", "melanoma", "malignant"),
     ("bkl", "pigmented benign keratosis", "benign"), ("bcc", "basal cell carcinoma", "malignant"),
     ("akiec", "actinic keratosis", "malignant"), ("df", "dermatofibroma", "benign"),
     ("vasc", "vascular lesion", "benign"), ("scc", "squamous cell carcinoma", "malignant"),
     ("naevus", "nevus", "benign")],
)
def test_ham10000_and_isic_codes(code: str, cls: str, label: str) -> None:
    assert canonical_class(code) == cls and label_of(code) == label
    assert label_and_diagnosis(code) == (label, cls)


def test_label_words_alone() -> None:
    assert label_and_diagnosis("Benign") == ("benign", "")
    assert label_and_diagnosis("MALIGNANT") == ("malignant", "")
    with pytest.raises(UnknownClassError, match=r"unknown label 'maybe'.*benign, malignant.*nv"):
        label_and_diagnosis("maybe")


def test_scan_benign_malignant_folders_with_diagnosis_subfolders(tmp_path: Path) -> None:
    """The layout of ham-extra and isic2017 (benign/nv, malignant/mel), plus images straight
    in benign/ and a folder that only groups images (benign/2024/)."""
    ham = DATA / "ham-extra"
    nv = _copy(sorted((ham / "benign" / "nv").glob("*.jpg"))[:4], tmp_path / "benign" / "nv")
    bkl = _copy(sorted((DATA / "isic2017" / "benign" / "bkl").glob("*.jpg"))[:2],
                tmp_path / "Benign" / "2024" / "bkl")
    loose = _copy(sorted((ham / "benign" / "nv").glob("*.jpg"))[4:6], tmp_path / "benign")
    mel = _copy(sorted((ham / "malignant" / "mel").glob("*.jpg"))[:3],
                tmp_path / "malignant" / "mel")
    samples = scan_dataset(tmp_path)
    got = {s.path: (s.label, s.cls, s.label_from) for s in samples}
    assert len(samples) == 11
    assert all(got[p] == ("benign", "nevus", "folder benign/nv/") for p in nv)
    assert all(got[p] == ("benign", "pigmented benign keratosis", "folder Benign/2024/bkl/")
               for p in bkl)
    assert all(got[p] == ("benign", "benign (no diagnosis given)", "folder benign/") for p in loose)
    assert all(got[p] == ("malignant", "melanoma", "folder malignant/mel/") for p in mel)


def test_scan_refuses_a_diagnosis_under_the_wrong_label(tmp_path: Path) -> None:
    _copy(sorted((DATA / "ham-extra" / "malignant" / "mel").glob("*.jpg"))[:1],
          tmp_path / "benign" / "mel")
    with pytest.raises(UnknownClassError, match=r"benign/mel/: melanoma is malignant"):
        scan_dataset(tmp_path)


def test_scan_code_folders(tmp_path: Path) -> None:
    _copy(sorted((DATA / "ham-extra" / "benign" / "nv").glob("*.jpg"))[:2], tmp_path / "nv")
    _copy(sorted((DATA / "ham-extra" / "malignant" / "mel").glob("*.jpg"))[:2], tmp_path / "MEL")
    samples = scan_dataset(tmp_path)
    assert {(s.cls, s.label, s.label_from) for s in samples} == {
        ("nevus", "benign", "folder nv/"), ("melanoma", "malignant", "folder MEL/")}
    (tmp_path / "freckle").mkdir()
    with pytest.raises(UnknownClassError, match=r"'freckle'.*benign, malignant.*nv \(nevus\)"):
        scan_dataset(tmp_path)


def test_labels_csv(tmp_path: Path) -> None:
    nv = _copy(sorted((DATA / "ham-extra" / "benign" / "nv").glob("*.jpg"))[:3], tmp_path / "a")
    mel = _copy(sorted((DATA / "ham-extra" / "malignant" / "mel").glob("*.jpg"))[:2],
                tmp_path / "b")
    labels = tmp_path / "labels.csv"
    labels.write_text("path,label\n"
                      f"a/{nv[0].name},benign\n"
                      f"a/{nv[1].name},NV\n"
                      f"{nv[2]},seborrheic keratosis\n"  # absolute, inside the folder
                      f"b/{mel[0].name},malignant\n"
                      f"b/{mel[1].name},mel\n", encoding="utf-8")
    samples = read_labels_csv(labels, tmp_path)
    assert [(s.path.name, s.label, s.cls) for s in samples] == [
        (nv[0].name, "benign", "benign (no diagnosis given)"),
        (nv[1].name, "benign", "nevus"),
        (nv[2].name, "benign", "seborrheic keratosis"),
        (mel[0].name, "malignant", "malignant (no diagnosis given)"),
        (mel[1].name, "malignant", "melanoma"),
    ]
    assert samples[1].label_from == "labels.csv line 3"


def test_labels_csv_bad_rows_are_named(tmp_path: Path) -> None:
    nv = _copy(sorted((DATA / "ham-extra" / "benign" / "nv").glob("*.jpg"))[:2], tmp_path / "a")
    outside = _copy(sorted((DATA / "ham-extra" / "benign" / "nv").glob("*.jpg"))[2:3],
                    tmp_path.parent / f"{tmp_path.name}-elsewhere")
    labels = tmp_path / "labels.csv"
    labels.write_text(f"a/{nv[0].name},benign\n"
                      f"a/{nv[0].name},benign\n"
                      "a/missing.jpg,benign\n"
                      f"a/{nv[0].name}\n"
                      f"../{outside[0].parent.name}/{outside[0].name},benign\n"
                      f"{nv[1]},freckle\n", encoding="utf-8")
    with pytest.raises(ValueError, match="5 bad rows") as info:
        read_labels_csv(labels, tmp_path)
    text = str(info.value)
    assert "line 2" in text and "listed again (first on line 1)" in text
    assert "line 3: no such file 'a/missing.jpg'" in text
    assert "line 4: expected path,label" in text
    assert "line 5" in text and "outside" in text
    assert "line 6: unknown label 'freckle'" in text
