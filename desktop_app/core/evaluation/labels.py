"""The one label mapping: diagnosis names, their HAM10000/ISIC abbreviations and the words
benign / malignant, to a canonical diagnosis and a label.

Every reader of labels (training's folder scan, the committed splits, ``dermscreen
evaluate`` with class folders or a ``--labels`` CSV) goes through here, so a word
means the same thing everywhere.
"""

from __future__ import annotations

import re
from typing import Literal

from desktop_app.core.base.errors import UnknownClassError

Label = Literal["benign", "malignant"]
LABELS: tuple[Label, ...] = ("benign", "malignant")

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

# The diagnosis codes of HAM10000 and the ISIC challenges (and the British spelling of
# nevus). bkl is HAM10000's "benign keratosis-like lesion" (solar lentigo, seborrheic and
# lichen-planus-like keratosis): the ISIC set's "pigmented benign keratosis". akiec holds
# actinic keratoses and intraepithelial carcinoma, both counted malignant.
ABBREVIATIONS: dict[str, str] = {
    "nv": "nevus",
    "naevus": "nevus",
    "mel": "melanoma",
    "bkl": "pigmented benign keratosis",
    "bcc": "basal cell carcinoma",
    "akiec": "actinic keratosis",
    "ak": "actinic keratosis",
    "df": "dermatofibroma",
    "vasc": "vascular lesion",
    "scc": "squamous cell carcinoma",
}


def normalize_class_name(name: str) -> str:
    """Fold case, underscores, hyphens and runs of spaces: 'Basal_Cell  carcinoma' -> canonical."""
    return re.sub(r"[\s_\-]+", " ", name).strip().lower()


def known_names() -> str:
    """Every name a class folder or a labels file may use, for error messages."""
    abbreviations = ", ".join(f"{a} ({c})" for a, c in ABBREVIATIONS.items() if a != "naevus")
    return (f"benign, malignant; the diagnoses {', '.join(ALL_CLASSES)}; or their "
            f"abbreviations {abbreviations}")


def diagnosis_of(name: str) -> str | None:
    """The canonical diagnosis a name or abbreviation stands for (None: not a diagnosis)."""
    folded = normalize_class_name(name)
    folded = ABBREVIATIONS.get(folded, folded)
    return folded if folded in ALL_CLASSES else None


def is_label_word(name: str) -> bool:
    """'benign' or 'malignant' (any case): a label without a diagnosis."""
    return normalize_class_name(name) in LABELS


def canonical_class(name: str) -> str:
    """Return the canonical diagnosis of a name or abbreviation, or raise UnknownClassError."""
    cls = diagnosis_of(name)
    if cls is None:
        msg = f"unknown class folder {name!r}; expected one of: {known_names()}"
        raise UnknownClassError(msg)
    return cls


def label_of(name: str) -> Label:
    """Map a diagnosis (any case, spaces or underscores, or its abbreviation) or the word
    benign/malignant itself to 'benign' or 'malignant'."""
    if is_label_word(name):
        return "benign" if normalize_class_name(name) == "benign" else "malignant"
    cls = canonical_class(name)
    return "benign" if cls in BENIGN_CLASSES else "malignant"


def label_and_diagnosis(name: str) -> tuple[Label, str]:
    """(label, canonical diagnosis or '' when only the label is given) of one word; raises
    UnknownClassError for anything else."""
    if is_label_word(name):
        return label_of(name), ""
    cls = diagnosis_of(name)
    if cls is None:
        msg = f"unknown label {name!r}; expected one of: {known_names()}"
        raise UnknownClassError(msg)
    return label_of(cls), cls


def is_malignant(name: str) -> bool:
    return label_of(name) == "malignant"
