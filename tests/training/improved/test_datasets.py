"""The image sets: the reference's benign split, disjoint sets, exact cached tensors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core.preprocess import preprocess_file
from training.data import audit_dataset, split_benign
from training.improved.datasets import load_image_sets, sets_from_audit


def test_sets_use_the_reference_split_and_never_overlap(isic9_dir: Path) -> None:
    audit = audit_dataset(isic9_dir)
    sets = sets_from_audit(audit)
    ref_train, ref_val = split_benign(audit.benign_train(), val_fraction=0.15, seed=42)
    assert [s.path for s in sets["fit"]] == [s.path for s in ref_train]
    assert [s.path for s in sets["val_b"]] == [s.path for s in ref_val]
    paths = {k: {s.path for s in v} for k, v in sets.items()}
    names = list(paths)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert not paths[a] & paths[b], (a, b)
    assert all(s.label == "benign" for s in sets["fit"] + sets["val_b"])
    assert all(s.label == "malignant" for s in sets["val_m"])
    assert all(s.split == "Test" for s in sets["test"])
    # No Train image used here has the same bytes as a Test image (leakage).
    test_sha = {audit.sha[s.path] for s in sets["test"]}
    assert not {audit.sha[s.path] for s in sets["fit"] + sets["val_b"] + sets["val_m"]} & test_sha


def test_cached_tensors_equal_the_app_preprocessing(tmp_path: Path, isic9_dir: Path) -> None:
    # A small copy of the layout (symlinks) keeps the test quick.
    root = tmp_path / "data"
    for split, n in (("Train", 6), ("Test", 2)):
        for class_dir in sorted((isic9_dir / split).iterdir()):
            dst = root / split / class_dir.name
            dst.mkdir(parents=True)
            for f in sorted(class_dir.glob("*.jpg"))[:n]:
                (dst / f.name).symlink_to(f)
    first = load_image_sets(root, tmp_path / "cache")
    again = load_image_sets(root, tmp_path / "cache")  # served from the cache
    for name, x in first.images.items():
        assert x.dtype == np.float32
        np.testing.assert_array_equal(x, again.images[name])
        want = np.stack([preprocess_file(s.path) for s in first.samples[name]])
        np.testing.assert_array_equal(x, want)  # bit-identical to what the app feeds the model
    xv, yv = first.validation()
    assert len(xv) == len(yv) == len(first.images["val_b"]) + len(first.images["val_m"])
    assert yv.sum() == len(first.images["val_m"])
