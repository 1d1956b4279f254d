"""The committed splits: readable, lesion-disjoint, on the real shared data."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from desktop_app.core.evaluation.splits import (
    DEV_EVAL,
    HAM_TRAIN,
    HAM_VALIDATION,
    ISIC9_TEST,
    ISIC9_VALIDATION,
    SPLIT_NAMES,
    UDA1_EXTERNAL,
    parse_split,
    read_split,
    split_samples,
)
from tests.support.data import DATA


def _ham_lesions() -> dict[str, str]:
    with (DATA / "ham-extra" / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        return {row["image_id"]: row["lesion_id"] for row in csv.DictReader(fh)}


def test_every_split_is_committed_and_names_existing_files() -> None:
    for name in SPLIT_NAMES:
        samples = split_samples(name, DATA)
        assert samples, name
        assert all(s.path.is_file() for s in samples[:50])


def test_ham_splits_are_lesion_disjoint_and_big_enough() -> None:
    lesion = _ham_lesions()
    sets = {n: {lesion[Path(e.rel_path).stem] for e in read_split(n)} for n in (DEV_EVAL, HAM_TRAIN, HAM_VALIDATION)}
    assert not sets[DEV_EVAL] & sets[HAM_TRAIN]
    assert not sets[DEV_EVAL] & sets[HAM_VALIDATION]
    assert not sets[HAM_TRAIN] & sets[HAM_VALIDATION]
    dev = read_split(DEV_EVAL)
    assert sum(e.cls == "melanoma" for e in dev) >= 90
    assert sum(e.cls == "nevus" for e in dev) >= 600
    # The benign-only recipe trains on nevi only: no melanoma outside the evaluation split.
    assert all(e.cls == "nevus" for n in (HAM_TRAIN, HAM_VALIDATION) for e in read_split(n))


def test_external_and_test_sets_do_not_overlap_training_images() -> None:
    ids = {n: {Path(e.rel_path).stem for e in read_split(n)} for n in SPLIT_NAMES}
    with (DATA / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        isic9_ids = {r["isic_id"] for r in csv.DictReader(fh) if r["dataset"] == "isic9"}
    assert not ids[UDA1_EXTERNAL] & isic9_ids
    assert all(e.rel_path.startswith("isic9/Test/") for e in read_split(ISIC9_TEST))
    assert all(e.rel_path.startswith("isic9/Train/") for e in read_split(ISIC9_VALIDATION))


def test_parse_split_reads_comments_and_rejects_bad_lines() -> None:
    entries = parse_split("# note\n\nham-extra/benign/nv/a.jpg,nevus\nx/y.jpg,Basal_Cell carcinoma\n")
    assert [(e.rel_path, e.cls) for e in entries] == [
        ("ham-extra/benign/nv/a.jpg", "nevus"), ("x/y.jpg", "basal cell carcinoma")
    ]
    with pytest.raises(ValueError, match="3"):
        parse_split("# ok\na.jpg,nevus\nno-class-here\n", "s.txt")


def test_a_missing_listed_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("nowhere/a.jpg,nevus\n", encoding="utf-8")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        split_samples("x", DATA, tmp_path)
