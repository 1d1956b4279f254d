"""Scan a labelled folder: the Kaggle ISIC layout or a flat <class>/ folder.

Shared by training (which audits and splits it) and the app's local
validation (`dermscreen evaluate`), so both read labels the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.base.errors import UnknownClassError
from desktop_app.core.evaluation.labels import Label, canonical_class, label_of
from desktop_app.core.imaging.imageio import is_image_path

SPLIT_NAMES = {"train": "Train", "test": "Test"}


@dataclass(frozen=True)
class Sample:
    """One labelled image file."""

    path: Path
    split: str  # "Train", "Test", or "" for a flat folder
    cls: str  # canonical class name
    label: Label

    @property
    def is_malignant(self) -> bool:
        return self.label == "malignant"


def _split_dirs(root: Path) -> dict[str, Path]:
    found: dict[str, Path] = {}
    for child in root.iterdir():
        if child.is_dir() and child.name.lower() in SPLIT_NAMES:
            found[SPLIT_NAMES[child.name.lower()]] = child
    return found


def _scan_class_dirs(folder: Path, split: str) -> list[Sample]:
    samples: list[Sample] = []
    for class_dir in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        cls = canonical_class(class_dir.name)
        label = label_of(cls)
        files = sorted(
            (f for f in class_dir.iterdir() if f.is_file() and is_image_path(f)),
            key=lambda f: f.name,
        )
        samples.extend(Sample(f, split, cls, label) for f in files)
    return samples


def scan_dataset(root: str | Path) -> list[Sample]:
    """All labelled images under ``root``, in a stable order.

    Accepts ``root/{Train,Test}/<class>/`` (any case) or ``root/<class>/``.
    Class names may use spaces or underscores in any case; an unknown class
    name raises :class:`UnknownClassError`.
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
                samples.extend(_scan_class_dirs(splits[split], split))
    else:
        samples = _scan_class_dirs(root, "")
    if not samples:
        msg = (
            f"no labelled images under {root}: expected Train/<class>/, Test/<class>/ "
            "or <class>/ folders holding images"
        )
        raise UnknownClassError(msg)
    return samples
