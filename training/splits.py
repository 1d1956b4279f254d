"""`dermscreen-train splits`: draw the committed splits once (resources/splits/*.txt).

* ham-extra (HAM10000, one image per lesion): ALL melanomas plus a seeded draw of
  ``n_eval_nevi`` nevus lesions form the development evaluation split (never
  used for choosing; the benign-only recipe never trains on melanomas); the
  other nevi are split by lesion_id into train / validation.
* isic9: the validation set of the reference (audited benign Train, split_benign
  seed 42, 15%) plus every audited Train malignant image (no CAE trains on
  them); isic9 Test as it is.
* uda1: melanoma and nevus images whose ISIC id occurs nowhere in isic9.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from desktop_app.core.splits import (
    DEV_EVAL,
    HAM_TRAIN,
    HAM_VALIDATION,
    ISIC9_TEST,
    ISIC9_VALIDATION,
    UDA1_EXTERNAL,
    SplitEntry,
    format_split,
    split_path,
    splits_dir,
)

HAM_DX = {
    "nv": "nevus",
    "mel": "melanoma",
    "bkl": "pigmented benign keratosis",
    "bcc": "basal cell carcinoma",
    "akiec": "actinic keratosis",
    "df": "dermatofibroma",
    "vasc": "vascular lesion",
}
UDA1_CLASSES = {"melanoma": "melanoma", "nevus": "nevus"}  # 'unspecified' has no usable label


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def ham_splits(
    data_root: Path, n_eval_nevi: int = 800, val_fraction: float = 0.15, seed: int = 13
) -> dict[str, list[SplitEntry]]:
    """Lesion-disjoint dev-eval / train / validation lists of ham-extra."""
    ham = data_root / "ham-extra"
    by_lesion: dict[str, list[SplitEntry]] = defaultdict(list)
    with (ham / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = row["label"].strip()
            path = ham / label / row["dx"] / f"{row['image_id']}.jpg"
            if not path.is_file():
                msg = f"{path}: in metadata.csv but not on disk"
                raise FileNotFoundError(msg)
            by_lesion[row["lesion_id"]].append(SplitEntry(_rel(path, data_root), HAM_DX[row["dx"]]))
    lesions = sorted(by_lesion)
    melanoma = [lid for lid in lesions if any(e.cls != "nevus" for e in by_lesion[lid])]
    nevi = [lid for lid in lesions if lid not in set(melanoma)]
    rng = np.random.default_rng(seed)
    order = [nevi[i] for i in rng.permutation(len(nevi))]
    eval_nevi = order[:n_eval_nevi]
    rest = order[n_eval_nevi:]
    n_val = round(len(rest) * val_fraction)
    pick = {
        DEV_EVAL: melanoma + eval_nevi,
        HAM_VALIDATION: rest[:n_val],
        HAM_TRAIN: rest[n_val:],
    }
    return {
        name: sorted((e for lid in ids for e in by_lesion[lid]), key=lambda e: e.rel_path)
        for name, ids in pick.items()
    }


def isic9_splits(data_root: Path) -> dict[str, list[SplitEntry]]:
    from training.data import audit_dataset, split_benign

    audit = audit_dataset(data_root / "isic9")
    _, val = split_benign(audit.benign_train(), val_fraction=0.15, seed=42)
    validation = val + audit.malignant_train()
    return {
        ISIC9_VALIDATION: [SplitEntry(_rel(s.path, data_root), s.cls) for s in validation],
        ISIC9_TEST: [SplitEntry(_rel(s.path, data_root), s.cls) for s in audit.test],
    }


def uda1_external(data_root: Path) -> list[SplitEntry]:
    isic9_ids: set[str] = set()
    with (data_root / "manifest.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            if row["dataset"] == "isic9" and row["isic_id"]:
                isic9_ids.add(row["isic_id"])
    entries = []
    for folder, cls in UDA1_CLASSES.items():
        for f in sorted((data_root / "uda1" / folder).glob("*.jpg")):
            if f.stem not in isic9_ids:
                entries.append(SplitEntry(_rel(f, data_root), cls))
    return entries


def write_splits(data_root: Path, out_dir: Path | None = None, seed: int = 13) -> dict[str, int]:
    """Draw every split and write it; returns the number of images per split."""
    from training.run import atomic_write_text

    data_root = Path(data_root)
    splits = ham_splits(data_root, seed=seed)
    splits.update(isic9_splits(data_root))
    splits[UDA1_EXTERNAL] = uda1_external(data_root)
    notes = {
        DEV_EVAL: f"ham-extra development evaluation: all melanomas + 800 nevus lesions (seed {seed}); "
        "NEVER used for choosing",
        HAM_TRAIN: f"ham-extra nevi for training: lesions not in the dev-eval split, 85% (seed {seed})",
        HAM_VALIDATION: f"ham-extra nevi for validation (choosing): 15% of the non-eval lesions (seed {seed})",
        ISIC9_VALIDATION: "isic9 validation: audited benign Train split_benign(seed 42, 15%) + all "
        "audited Train malignant images (never trained on by the benign-only recipe)",
        ISIC9_TEST: "isic9 Test as shipped (118 images); reports only",
        UDA1_EXTERNAL: "uda1 melanoma/nevus images whose ISIC id occurs nowhere in isic9; reports only",
    }
    out_dir = Path(out_dir or splits_dir())
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, entries in splits.items():
        header = [notes[name], "rel_path relative to the shared data folder, canonical class"]
        atomic_write_text(split_path(name, out_dir), format_split(entries, header))
    return {name: len(entries) for name, entries in splits.items()}
