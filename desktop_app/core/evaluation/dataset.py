"""Scan a labelled folder: the Kaggle ISIC layout, class folders, benign/ and malignant/
folders, or a labels CSV.

Shared by training (which audits and splits it) and the app's local
validation (`dermscreen evaluate`), so both read labels the same way, through
:mod:`desktop_app.core.evaluation.labels`. Every sample says where its label came from
(``label_from``), so a clinic can check which image got which label.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.base.errors import UnknownClassError
from desktop_app.core.evaluation.labels import (
    Label,
    canonical_class,
    diagnosis_of,
    is_label_word,
    known_names,
    label_and_diagnosis,
    label_of,
)
from desktop_app.core.imaging.imageio import is_image_path

SPLIT_NAMES = {"train": "Train", "test": "Test"}
MAX_LABELS_BYTES = 32 * 1024 * 1024  # a labels CSV of a million rows is about 60 MB; refuse more
NO_DIAGNOSIS = "{label} (no diagnosis given)"


@dataclass(frozen=True)
class Sample:
    """One labelled image file."""

    path: Path
    split: str  # "Train", "Test", or "" for a flat folder
    cls: str  # canonical diagnosis, or "benign/malignant (no diagnosis given)"
    label: Label
    label_from: str = ""  # the folder or labels-file line the label was read from

    @property
    def is_malignant(self) -> bool:
        return self.label == "malignant"


def _split_dirs(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() in SPLIT_NAMES:
            found[SPLIT_NAMES[child.name.lower()]] = child
    return found


def _images_in(folder: Path) -> list[Path]:
    return sorted((f for f in folder.iterdir() if f.is_file() and is_image_path(f)),
                  key=lambda f: f.name)


def _subfolders(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _scan_label_dir(folder: Path, label: Label, split: str, root: Path,
                    diagnosis: str = "") -> list[Sample]:
    """Images anywhere under a benign/ or malignant/ folder: the nearest folder named for a
    diagnosis gives it (it must agree with the label); other folders only group images."""
    samples = []
    cls = diagnosis or NO_DIAGNOSIS.format(label=label)
    where = folder.relative_to(root).as_posix() + "/"
    samples += [Sample(f, split, cls, label, f"folder {where}") for f in _images_in(folder)]
    for sub in _subfolders(folder):
        found = diagnosis_of(sub.name)
        if found is not None and label_of(found) != label:
            msg = (f"folder {sub.relative_to(root).as_posix()}/: {found} is {label_of(found)}, "
                   f"but it lies in a {label} folder; move it or rename it")
            raise UnknownClassError(msg)
        samples += _scan_label_dir(sub, label, split, root, found or diagnosis)
    return samples


def _scan_class_dirs(folder: Path, split: str, root: Path) -> list[Sample]:
    samples: list[Sample] = []
    for class_dir in _subfolders(folder):
        if is_label_word(class_dir.name):
            samples.extend(_scan_label_dir(class_dir, label_of(class_dir.name), split, root))
            continue
        cls = canonical_class(class_dir.name)
        label = label_of(cls)
        where = f"folder {class_dir.relative_to(root).as_posix()}/"
        samples.extend(Sample(f, split, cls, label, where) for f in _images_in(class_dir))
    return samples


def scan_dataset(root: str | Path) -> list[Sample]:
    """All labelled images under ``root``, in a stable order.

    Accepts ``root/{Train,Test}/<class>/`` (any case) or ``root/<class>/``, where
    a class folder is a diagnosis (any case, spaces or underscores), its
    HAM10000/ISIC abbreviation (nv, mel, bkl, bcc, akiec, df, vasc, scc), or
    ``benign`` / ``malignant``, which may hold diagnosis folders (and any other
    folders) in turn. An unknown class name raises :class:`UnknownClassError`.
    """
    root = Path(root)
    if not root.is_dir():
        msg = f"data folder not found: {root}"
        raise FileNotFoundError(msg)
    splits = _split_dirs(root)
    if splits:
        samples: list[Sample] = []
        for split in ("Train", "Test"):
            if split in splits:
                samples.extend(_scan_class_dirs(splits[split], split, root))
    else:
        samples = _scan_class_dirs(root, "", root)
    if not samples:
        msg = (
            f"no labelled images under {root}: expected Train/<class>/, Test/<class>/, "
            "<class>/ or benign/ and malignant/ folders holding images, or a labels file "
            "(--labels)"
        )
        raise UnknownClassError(msg)
    return samples


def read_labels_csv(labels_file: str | Path, root: str | Path) -> list[Sample]:
    """Samples from a CSV of ``path,label`` rows (a header row is optional; more columns are
    ignored). ``path`` is relative to ``root`` (or absolute, inside it); ``label`` is benign,
    malignant, a diagnosis or its abbreviation. Raises ValueError naming the line for a
    missing file, a path outside ``root``, an unknown label or a file listed twice."""
    # Normalised, not resolved: a folder of links to the images is still "inside".
    labels_file, root = Path(labels_file), Path(os.path.abspath(root))
    if not labels_file.is_file():
        msg = f"labels file not found: {labels_file}"
        raise FileNotFoundError(msg)
    if labels_file.stat().st_size > MAX_LABELS_BYTES:
        msg = f"labels file {labels_file} is over {MAX_LABELS_BYTES // (1024 * 1024)} MB"
        raise ValueError(msg)
    text = labels_file.read_bytes().decode("utf-8-sig", errors="strict")
    samples: list[Sample] = []
    seen: dict[Path, int] = {}
    problems: list[str] = []
    for line_no, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in row]
        if not cells or not any(cells) or cells[0].startswith("#"):
            continue
        if line_no == 1 and [c.lower() for c in cells[:2]] == ["path", "label"]:
            continue  # the header
        where = f"{labels_file.name} line {line_no}"
        if len(cells) < 2 or not cells[0] or not cells[1]:
            problems.append(f"{where}: expected path,label")
            continue
        path = Path(os.path.normpath(root / cells[0]))  # an absolute path replaces root
        if root not in path.parents:
            problems.append(f"{where}: {cells[0]!r} lies outside {root}")
            continue
        if not path.is_file():
            problems.append(f"{where}: no such file {cells[0]!r}")
            continue
        if path in seen:
            problems.append(f"{where}: {cells[0]!r} is listed again (first on line {seen[path]})")
            continue
        try:
            label, cls = label_and_diagnosis(cells[1])
        except UnknownClassError:
            problems.append(f"{where}: unknown label {cells[1]!r}")
            continue
        seen[path] = line_no
        samples.append(Sample(path, "", cls or NO_DIAGNOSIS.format(label=label), label, where))
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (and {len(problems) - 10} more)" if len(problems) > 10 else ""
        msg = f"labels file {labels_file}: {len(problems)} bad rows: {shown}{more}. Labels: {known_names()}"
        raise ValueError(msg)
    if not samples:
        msg = f"labels file {labels_file}: no path,label rows"
        raise ValueError(msg)
    return samples
