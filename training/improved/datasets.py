"""The image sets the improved detector is chosen and reported on, cached as uint8 arrays.

Sets (same audit and benign split as the reference, seed 42, val 0.15):

* ``fit``       benign Train images the reference CAE trains on (statistics are fitted here)
* ``val_b``     held-out benign validation images (never trained on)
* ``val_m``     Train malignant images (never trained on): with ``val_b`` the validation set
* ``test``      every Test image (final reporting only, never used to choose)

Preprocessing is :func:`desktop_app.core.preprocess.preprocess_file`; its float32
output is exactly ``uint8 / 255`` (resize of uint8 data), so the cache stores uint8.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from desktop_app.core.preprocess import PreprocessConfig, preprocess_file
from training.data import Audit, Sample, audit_dataset, split_benign

SPLIT_SEED = 42
VAL_FRACTION = 0.15
SET_NAMES = ("fit", "val_b", "val_m", "test")


@dataclass
class ImageSets:
    """Preprocessed images (float32 [0, 1]) and their samples, by set name."""

    images: dict[str, np.ndarray]
    samples: dict[str, list[Sample]]
    test_ambiguous: np.ndarray  # bool mask over ``samples["test"]``
    data_hash: str

    def validation(self) -> tuple[np.ndarray, np.ndarray]:
        """(images, labels) of the validation set, label 1 = malignant."""
        x = np.concatenate([self.images["val_b"], self.images["val_m"]])
        y = np.r_[np.zeros(len(self.images["val_b"])), np.ones(len(self.images["val_m"]))]
        return x, y.astype(np.int64)

    def test_labels(self) -> np.ndarray:
        return np.array([int(s.is_malignant) for s in self.samples["test"]], dtype=np.int64)


def sets_from_audit(audit: Audit) -> dict[str, list[Sample]]:
    """The four sets, the benign split being the reference's."""
    fit, val_b = split_benign(audit.benign_train(), val_fraction=VAL_FRACTION, seed=SPLIT_SEED)
    return {"fit": fit, "val_b": val_b, "val_m": audit.malignant_train(), "test": audit.test}


def _preprocess_u8(path: Path, cfg: PreprocessConfig) -> np.ndarray:
    x = preprocess_file(path, cfg)
    return np.rint(x * 255.0).astype(np.uint8)


def _atomic_save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, array)
    os.replace(tmp, path)


def load_image_sets(
    data_root: str | Path, cache_dir: str | Path, cfg: PreprocessConfig | None = None
) -> ImageSets:
    """Audit, split and preprocess ``data_root``; reuse ``cache_dir`` when it matches."""
    cfg = cfg or PreprocessConfig()
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    audit = audit_dataset(data_root)
    samples = sets_from_audit(audit)
    images: dict[str, np.ndarray] = {}
    for name in SET_NAMES:
        members = samples[name]
        key = {
            "preprocess": cfg.digest(),
            "files": [audit.sha[s.path] for s in members],
        }
        stem = cache_dir / f"{name}-{cfg.digest()}"
        npy, meta = stem.with_suffix(".npy"), stem.with_suffix(".json")
        if npy.exists() and meta.exists() and json.loads(meta.read_text()) == key:
            u8 = np.load(npy)
        else:
            with ThreadPoolExecutor(max_workers=2) as pool:
                u8 = np.stack(list(pool.map(lambda s: _preprocess_u8(s.path, cfg), members)))
            _atomic_save(npy, u8)
            tmp = meta.with_name(meta.name + ".tmp")
            tmp.write_text(json.dumps(key))
            os.replace(tmp, meta)
        images[name] = u8.astype(np.float32) * np.float32(1.0 / 255.0)
    ambiguous = {s.path for s in audit.test_ambiguous}
    mask = np.array([s.path in ambiguous for s in samples["test"]], dtype=bool)
    return ImageSets(images=images, samples=samples, test_ambiguous=mask, data_hash=audit.data_hash())
