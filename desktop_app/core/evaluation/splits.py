"""The committed, lesion-disjoint evaluation and training splits (resources/splits/*.txt).

Each split file lists one image per line as ``rel_path,class`` with ``rel_path``
relative to the shared data folder (the one holding ``isic9/``, ``uda1/``,
``ham-extra/`` and ``isic2017/``) and ``class`` a canonical class name. Lines starting with ``#``
are comments (how the split was drawn). Training writes them once
(``dermscreen-train splits``); training and the app's evaluation suite read
them here, so both see the same files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from desktop_app.core.base.paths import resources_dir
from desktop_app.core.evaluation.dataset import Sample
from desktop_app.core.evaluation.labels import canonical_class, label_of


def splits_dir() -> Path:
    """``resources/splits`` of the checkout or bundle."""
    return resources_dir() / "splits"


# The named splits. DEV_EVAL and the external sets are never used for choosing.
HAM_TRAIN = "ham-extra-train"
HAM_VALIDATION = "ham-extra-validation"
DEV_EVAL = "ham-extra-dev-eval"
ISIC9_VALIDATION = "isic9-validation"
ISIC9_TEST = "isic9-test"
UDA1_EXTERNAL = "uda1-external"
# Issue 27: the labelled (supervised) lane and the third site. ham-extra-eval is a seeded,
# lesion-disjoint half of dev-eval (cae2 never trained on dev-eval); the other half is
# split between supervised training and validation. isic2017-eval: the official
# validation images plus a seeded 25% of the official training images (by image id).
HAM_EVAL = "ham-extra-eval"
ISIC2017_EVAL = "isic2017-eval"
SUPERVISED_TRAIN = "supervised-train"
SUPERVISED_VALIDATION = "supervised-validation"
SPLIT_NAMES = (
    HAM_TRAIN, HAM_VALIDATION, DEV_EVAL, ISIC9_VALIDATION, ISIC9_TEST, UDA1_EXTERNAL,
    HAM_EVAL, ISIC2017_EVAL, SUPERVISED_TRAIN, SUPERVISED_VALIDATION,
)


@dataclass(frozen=True)
class SplitEntry:
    rel_path: str
    cls: str


def split_path(name: str, folder: Path | None = None) -> Path:
    return Path(folder or splits_dir()) / f"{name}.txt"


def parse_split(text: str, source: str = "<split>") -> list[SplitEntry]:
    """Parse a split file's text; a malformed line raises ValueError naming it."""
    entries: list[SplitEntry] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        rel, sep, cls = line.rpartition(",")
        if not sep or not rel:
            msg = f"{source}:{number}: expected 'rel_path,class', got {line!r}"
            raise ValueError(msg)
        entries.append(SplitEntry(rel.strip(), canonical_class(cls)))
    return entries


def read_split(name: str, folder: Path | None = None) -> list[SplitEntry]:
    path = split_path(name, folder)
    return parse_split(path.read_text(encoding="utf-8"), str(path))


def format_split(entries: list[SplitEntry], header: list[str]) -> str:
    lines = [f"# {h}" for h in header]
    lines += [f"{e.rel_path},{e.cls}" for e in entries]
    return "\n".join(lines) + "\n"


def split_samples(
    name: str, data_root: Path, folder: Path | None = None, split: str = ""
) -> list[Sample]:
    """The split's images as Samples under ``data_root``; a listed file that is missing raises."""
    samples = []
    for e in read_split(name, folder):
        path = Path(data_root) / e.rel_path
        if not path.is_file():
            msg = f"{path}: listed in split {name!r} but not found (is {data_root} the shared data folder?)"
            raise FileNotFoundError(msg)
        samples.append(Sample(path, split, e.cls, label_of(e.cls)))
    return samples
