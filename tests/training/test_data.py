"""The audit finds the dataset's flaws by itself; the manifest is only read here, to check it."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from tests.support.data import MANIFEST
from training.data import Audit, audit_dataset, split_benign


@pytest.fixture(scope="module")
def audit(isic9_dir: Path) -> Audit:
    return audit_dataset(isic9_dir)


def _manifest_cross_label_pairs() -> set[frozenset[str]]:
    by_sha: dict[str, list[dict]] = defaultdict(list)
    with open(MANIFEST, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row["dataset"] == "isic9":
                by_sha[row["sha256_original"]].append(row)
    pairs = set()
    for rows in by_sha.values():
        if len({r["label"] for r in rows}) > 1:
            pairs.add(frozenset(r["rel_path"].removeprefix("isic9/") for r in rows))
    return pairs


def test_audit_finds_manifest_cross_class_duplicates(audit: Audit, isic9_dir: Path) -> None:
    expected = _manifest_cross_label_pairs()
    found = {
        frozenset(str(s.path.relative_to(isic9_dir)) for s in group) for group in audit.cross_label
    }
    assert len(expected) == 155
    assert found == expected


def test_no_leakage_and_ambiguous_dropped(audit: Audit) -> None:
    test_hashes = {audit.sha[s.path] for s in audit.test}
    assert not any(audit.sha[s.path] in test_hashes for s in audit.train)
    ambiguous = {s.path for group in audit.cross_label for s in group if s.split == "Train"}
    assert ambiguous and ambiguous.isdisjoint({s.path for s in audit.train})
    # Every kept Train file is unique by content.
    kept = [audit.sha[s.path] for s in audit.train]
    assert len(kept) == len(set(kept))


def test_audit_report_and_summary(audit: Audit) -> None:
    summary = audit.summary()
    assert summary["files"] == 2359
    assert summary["test"] == 118
    assert summary["cross_label_groups"] == 155
    assert summary["train_kept"] == 2241 - sum(summary["dropped"].values())
    text = audit.report()
    assert "Dropped from Train" in text and "melanoma" in text


def test_split_is_stratified_deterministic_and_disjoint(audit: Audit) -> None:
    benign = audit.benign_train()
    train, val = split_benign(benign, val_fraction=0.15, seed=42)
    train2, val2 = split_benign(list(reversed(benign)), val_fraction=0.15, seed=42)
    assert [s.path for s in val] == [s.path for s in val2]
    assert [s.path for s in train] == [s.path for s in train2]
    assert {s.path for s in train}.isdisjoint({s.path for s in val})
    assert len(train) + len(val) == len(benign)
    for cls in {s.cls for s in benign}:
        n = sum(s.cls == cls for s in benign)
        n_val = sum(s.cls == cls for s in val)
        assert n_val == max(1, round(n * 0.15))
    _other_train, other_val = split_benign(benign, seed=7)
    assert {s.path for s in other_val} != {s.path for s in val}
    assert all(s.label == "benign" for s in train + val)


def test_split_rejects_bad_fraction(audit: Audit) -> None:
    with pytest.raises(ValueError, match="val_fraction"):
        split_benign(audit.benign_train(), val_fraction=1.5)


def test_audit_drops_leaked_copy(tmp_path: Path, isic9_dir: Path) -> None:
    """A synthetic layout: a Test image copied into Train is dropped from Train."""
    src = sorted((isic9_dir / "Test" / "nevus").glob("*.jpg"))[:2]
    for split in ("Train", "Test"):
        (tmp_path / split / "nevus").mkdir(parents=True)
    shutil.copy(src[0], tmp_path / "Test" / "nevus" / "a.jpg")
    shutil.copy(src[0], tmp_path / "Train" / "nevus" / "a_copy.jpg")
    shutil.copy(src[1], tmp_path / "Train" / "nevus" / "b.jpg")
    audit = audit_dataset(tmp_path)
    assert [s.path.name for s in audit.train] == ["b.jpg"]
    assert "leakage" in next(iter(audit.dropped.values()))
