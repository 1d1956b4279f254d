"""`dermscreen-train splits`: draw the committed splits once (resources/splits/*.txt).

* ham-extra (HAM10000, one image per lesion): ALL melanomas plus a seeded draw of
  ``n_eval_nevi`` nevus lesions form the development evaluation split (never
  used for choosing; the benign-only recipe never trains on melanomas); the
  other nevi are split by lesion_id into train / validation.
* isic9: the validation set of the reference (audited benign Train, split_benign
  seed 42, 15%) plus every audited Train malignant image (no CAE trains on
  them); isic9 Test as it is.
* uda1: melanoma and nevus images whose ISIC id occurs nowhere in isic9.
* issue 27, the labelled lane: :func:`supervised_splits` draws ``ham-extra-eval`` (a
  seeded half of dev-eval's lesions, melanomas and nevi separately), ``isic2017-eval``
  (official validation + 25% of official train by image id) and the multi-site
  ``supervised-train`` / ``supervised-validation`` lists from everything else; no image
  of isic9 Test, uda1-external or the two eval lists is on either side.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path

import numpy as np

from desktop_app.core.evaluation.splits import (
    DEV_EVAL,
    HAM_EVAL,
    HAM_TRAIN,
    HAM_VALIDATION,
    ISIC9_TEST,
    ISIC9_VALIDATION,
    ISIC2017_EVAL,
    SUPERVISED_TRAIN,
    SUPERVISED_VALIDATION,
    UDA1_EXTERNAL,
    SplitEntry,
    format_split,
    read_split,
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


ISIC2017_DX = {"nv": "nevus", "bkl": "seborrheic keratosis", "mel": "melanoma"}


def _seeded_split(items: list, fractions: tuple[float, ...], seed: int) -> list[list]:
    """Shuffle ``items`` (sorted first, so the draw depends on the seed alone) and cut."""
    items = sorted(items)
    order = [items[i] for i in np.random.default_rng(seed).permutation(len(items))]
    cuts, out, start = np.cumsum(fractions), [], 0
    for c in cuts:
        end = round(c * len(order))
        out.append(order[start:end])
        start = end
    out[-1] += order[start:]
    return out


SUPERVISED_SEED = 27


def supervised_splits(data_root: Path, seed: int = SUPERVISED_SEED, folder: Path | None = None
                      ) -> dict[str, list[SplitEntry]]:
    """The issue-27 lists, drawn from the dev-eval, ham and isic9 lists in ``folder`` (default:
    the committed ones), so the earlier lists never move.

    * ham-extra: dev-eval's lesions, melanoma and nevus lesions drawn separately, 50% eval /
      35% supervised train / 15% supervised validation; ham-extra-train nevi join supervised
      train, ham-extra-validation nevi supervised validation.
    * isic9: isic9-validation's benign images stay validation; its malignant images (every
      audited Train malignant) 75% train / 25% validation; the audited benign Train images
      the CAE trained on join train. isic9 Test stays evaluation only.
    * isic2017 (no lesion ids: split by image id): official validation + 25% of official
      train (per class) = eval; the rest 80% train / 20% validation, per class.
    """
    from training.data import audit_dataset

    data_root = Path(data_root)
    lesion_of: dict[str, str] = {}
    with (data_root / "ham-extra" / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            lesion_of[row["image_id"]] = row["lesion_id"]
    dev = read_split(DEV_EVAL, folder)
    by_lesion: dict[str, list[SplitEntry]] = defaultdict(list)
    for e in dev:
        by_lesion[lesion_of[Path(e.rel_path).stem]].append(e)
    out: dict[str, list[SplitEntry]] = {HAM_EVAL: [], SUPERVISED_TRAIN: [], SUPERVISED_VALIDATION: []}
    for kind, offset in (("melanoma", 0), ("nevus", 1)):
        ids = [lid for lid, es in by_lesion.items() if (es[0].cls == "nevus") == (kind == "nevus")]
        for name, part in zip(out, _seeded_split(ids, (0.5, 0.35, 0.15), seed + offset), strict=True):
            out[name] += [e for lid in part for e in by_lesion[lid]]
    out[SUPERVISED_TRAIN] += read_split(HAM_TRAIN, folder)
    out[SUPERVISED_VALIDATION] += read_split(HAM_VALIDATION, folder)

    isic9_val = read_split(ISIC9_VALIDATION, folder)
    from desktop_app.core.evaluation.labels import label_of

    malignant = [e for e in isic9_val if label_of(e.cls) == "malignant"]
    mal_train, mal_val = _seeded_split(
        [(e.rel_path, e.cls) for e in malignant], (0.75, 0.25), seed + 2
    )
    out[SUPERVISED_TRAIN] += [SplitEntry(r, c) for r, c in mal_train]
    out[SUPERVISED_VALIDATION] += [SplitEntry(r, c) for r, c in mal_val]
    out[SUPERVISED_VALIDATION] += [e for e in isic9_val if label_of(e.cls) != "malignant"]
    in_val = {e.rel_path for e in isic9_val}
    audit = audit_dataset(data_root / "isic9")
    out[SUPERVISED_TRAIN] += [
        SplitEntry(_rel(s.path, data_root), s.cls)
        for s in audit.benign_train() if _rel(s.path, data_root) not in in_val
    ]

    out[ISIC2017_EVAL] = []
    by_dx: dict[tuple[str, str], list[str]] = defaultdict(list)
    with (data_root / "isic2017" / "metadata.csv").open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            rel = f"isic2017/{row['rel_path']}"
            if not (data_root / rel).is_file():
                msg = f"{data_root / rel}: in isic2017/metadata.csv but not on disk"
                raise FileNotFoundError(msg)
            by_dx[(row["official_split"], ISIC2017_DX[row["dx"]])].append(rel)
    for (official, cls), rels in sorted(by_dx.items()):
        if official == "validation":
            out[ISIC2017_EVAL] += [SplitEntry(r, cls) for r in rels]
            continue
        ev, tr, va = _seeded_split(rels, (0.25, 0.6, 0.15), seed + 3 + len(cls))
        out[ISIC2017_EVAL] += [SplitEntry(r, cls) for r in ev]
        out[SUPERVISED_TRAIN] += [SplitEntry(r, cls) for r in tr]
        out[SUPERVISED_VALIDATION] += [SplitEntry(r, cls) for r in va]
    return {name: sorted(es, key=lambda e: e.rel_path) for name, es in out.items()}


SUPERVISED_NOTES = {
    HAM_EVAL: "ham-extra evaluation (issue 27): a seeded half of dev-eval's lesions (melanoma "
    "and nevus lesions drawn separately); NEVER used for choosing",
    ISIC2017_EVAL: "isic2017 evaluation (issue 27): the official validation images + a seeded "
    "25% of the official train images per class, by image id (ISIC 2017 has no lesion ids); "
    "NEVER used for choosing",
    SUPERVISED_TRAIN: "labelled training images of three sites (issue 27): isic9 audited Train "
    "benign (not validation) + 75% of its malignant, ham-extra-train + 35% of dev-eval's "
    "lesions, 60% of isic2017 official train per class",
    SUPERVISED_VALIDATION: "labelled validation (choosing) of three sites (issue 27): isic9 "
    "validation benign + 25% of its malignant, ham-extra-validation + 15% of dev-eval's "
    "lesions, 15% of isic2017 official train per class",
}


def write_supervised_splits(data_root: Path, out_dir: Path | None = None,
                            seed: int = SUPERVISED_SEED) -> dict[str, int]:
    """Draw and write the issue-27 lists from the earlier lists in ``out_dir``."""
    from training.run import atomic_write_text

    out_dir = Path(out_dir or splits_dir())
    splits = supervised_splits(data_root, seed, out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, entries in splits.items():
        header = [SUPERVISED_NOTES[name] + f" (seed {seed})",
                  "rel_path relative to the shared data folder, canonical class"]
        atomic_write_text(split_path(name, out_dir), format_split(entries, header))
    return {name: len(entries) for name, entries in splits.items()}


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
    counts = {name: len(entries) for name, entries in splits.items()}
    return {**counts, **write_supervised_splits(data_root, out_dir)}
