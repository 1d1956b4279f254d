"""The one label mapping: ISIC class names to benign / malignant."""

from __future__ import annotations

import re
from typing import Literal

from desktop_app.core.base.errors import UnknownClassError

Label = Literal["benign", "malignant"]

BENIGN_CLASSES: tuple[str, ...] = (
    "nevus",
    "pigmented benign keratosis",
    "seborrheic keratosis",
    "dermatofibroma",
    "vascular lesion",
)
# Actinic keratosis is pre-malignant; counted malignant as HAM10000 counts akiec.
MALIGNANT_CLASSES: tuple[str, ...] = (
    "melanoma",
    "basal cell carcinoma",
    "squamous cell carcinoma",
    "actinic keratosis",
)
ALL_CLASSES: tuple[str, ...] = BENIGN_CLASSES + MALIGNANT_CLASSES


def normalize_class_name(name: str) -> str:
    """Fold case, underscores, hyphens and runs of spaces: 'Basal_Cell  carcinoma' -> canonical."""
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def canonical_class(name: str) -> str:
    """Return the canonical class name or raise UnknownClassError."""
    folded = normalize_class_name(name)
    if folded not in ALL_CLASSES:
        known = ", ".join(ALL_CLASSES)
        msg = f"unknown class folder {name!r}; expected one of: {known}"
        raise UnknownClassError(msg)
    return folded


def label_of(name: str) -> Label:
    """Map a class name (any case, spaces or underscores) to 'benign' or 'malignant'."""
    cls = canonical_class(name)
    return "benign" if cls in BENIGN_CLASSES else "malignant"


def is_malignant(name: str) -> bool:
    return label_of(name) == "malignant"
