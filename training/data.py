"""ISIC data layer for training: duplicate audit, leakage removal, benign split.

The audit finds byte-identical files (SHA-256) itself; it never reads the
dataset's manifest. Rules:

* a file present under both a benign and a malignant class is ambiguous and
  dropped from training;
* a Train file identical to any Test file is dropped from Train (no leakage);
* further byte-identical copies inside Train keep only their first instance.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from desktop_app.core.evaluation.dataset import Sample, scan_dataset
from desktop_app.core.imaging.imageio import file_sha256

__all__ = ["Audit", "Sample", "audit_dataset", "scan_dataset", "split_benign"]


@dataclass
class Audit:
    """Result of auditing a labelled dataset."""

    samples: list[Sample]
    sha: dict[Path, str]
    duplicate_groups: list[list[Sample]] = field(default_factory=list)
    cross_label: list[list[Sample]] = field(default_factory=list)
    dropped: dict[Path, str] = field(default_factory=dict)

    @property
    def train(self) -> list[Sample]:
        """Train samples that survive the audit."""
        return [s for s in self.samples if s.split == "Train" and s.path not in self.dropped]

    @property
    def test(self) -> list[Sample]:
        """All Test samples (the Test split is reported as-is, flaws noted)."""
        return [s for s in self.samples if s.split == "Test"]

    @property
    def test_ambiguous(self) -> list[Sample]:
        """Test samples whose bytes also sit under a class of the other label."""
        flagged = {s.path for group in self.cross_label for s in group}
        return [s for s in self.test if s.path in flagged]

    def benign_train(self) -> list[Sample]:
        return [s for s in self.train if s.label == "benign"]

    def malignant_train(self) -> list[Sample]:
        return [s for s in self.train if s.label == "malignant"]

    def data_hash(self, samples: list[Sample] | None = None) -> str:
        """Hash of the file contents and labels of ``samples`` (default: kept Train)."""
        chosen = self.train if samples is None else samples
        digest = hashlib.sha256()
        for line in sorted(f"{self.sha[s.path]} {s.cls}" for s in chosen):
            digest.update(line.encode() + b"\n")
        return digest.hexdigest()

    def summary(self) -> dict:
        counts: dict[str, dict[str, int]] = defaultdict(dict)
        for (split, cls), n in sorted(Counter((s.split or "all", s.cls) for s in self.samples).items()):
            counts[split][cls] = n
        reasons = Counter(self.dropped.values())
        return {
            "files": len(self.samples),
            "counts": dict(counts),
            "duplicate_groups": len(self.duplicate_groups),
            "files_in_duplicate_groups": sum(len(g) for g in self.duplicate_groups),
            "cross_label_groups": len(self.cross_label),
            "dropped": dict(reasons),
            "train_kept": len(self.train),
            "train_benign_kept": len(self.benign_train()),
            "test": len(self.test),
            "test_ambiguous": len(self.test_ambiguous),
        }

    def report(self) -> str:
        """Human-readable audit, as `dermscreen-train audit` prints it."""
        s = self.summary()
        lines = [f"Files: {s['files']}"]
        for split, per_class in s["counts"].items():
            total = sum(per_class.values())
            lines.append(f"  {split}: {total}")
            for cls, n in per_class.items():
                lines.append(f"    {cls:<28} {n:5d}")
        lines.append(
            f"Byte-identical groups: {s['duplicate_groups']} "
            f"({s['files_in_duplicate_groups']} files); "
            f"across benign/malignant: {s['cross_label_groups']}"
        )
        for group in self.duplicate_groups:
            names = ", ".join(f"{g.split}/{g.cls}/{g.path.name}" for g in group)
            lines.append(f"  {self.sha[group[0].path][:12]}  {names}")
        lines.append("Dropped from Train:")
        for reason, n in sorted(Counter(self.dropped.values()).items()):
            lines.append(f"  {n:5d}  {reason}")
        lines.append(
            f"Train kept: {s['train_kept']} (benign {s['train_benign_kept']}); "
            f"Test: {s['test']} ({s['test_ambiguous']} with the same bytes under the other label)"
        )
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(self.summary(), indent=2, sort_keys=True)


def audit_dataset(root: str | Path, workers: int = 4) -> Audit:
    """Scan ``root``, hash every file and apply the duplicate rules."""
    samples = scan_dataset(root)
    with ThreadPoolExecutor(max_workers=workers) as pool:
        hashes = list(pool.map(file_sha256, [s.path for s in samples]))
    sha = {s.path: h for s, h in zip(samples, hashes, strict=True)}
    by_hash: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        by_hash[sha[s.path]].append(s)

    audit = Audit(samples=samples, sha=sha)
    for group in by_hash.values():
        if len(group) < 2:
            continue
        audit.duplicate_groups.append(group)
        labels = {g.label for g in group}
        has_test = any(g.split == "Test" for g in group)
        if len(labels) > 1:
            audit.cross_label.append(group)
        train_members = [g for g in group if g.split == "Train"]
        for i, g in enumerate(train_members):
            if len(labels) > 1:
                audit.dropped[g.path] = "same bytes under a benign and a malignant class"
            elif has_test:
                audit.dropped[g.path] = "identical to a Test image (leakage)"
            elif i > 0:
                audit.dropped[g.path] = "repeated copy inside Train"
    audit.duplicate_groups.sort(key=lambda g: (g[0].split, g[0].cls, g[0].path.name))
    return audit


def split_benign(
    samples: list[Sample], val_fraction: float = 0.15, seed: int = 42, label: str = "benign"
) -> tuple[list[Sample], list[Sample]]:
    """Deterministic class-stratified split of ``label`` samples into (train, validation).

    Within each class the files are ordered by name, shuffled with ``seed``
    and the first ``round(n * val_fraction)`` (at least one where the class
    has two or more files) go to validation.
    """
    if not 0.0 < val_fraction < 1.0:
        msg = f"val_fraction must be in (0, 1), got {val_fraction}"
        raise ValueError(msg)
    benign = [s for s in samples if s.label == label]
    by_class: dict[str, list[Sample]] = defaultdict(list)
    for s in sorted(benign, key=lambda s: (s.cls, s.path.name, str(s.path))):
        by_class[s.cls].append(s)
    rng = np.random.default_rng(seed)
    train: list[Sample] = []
    val: list[Sample] = []
    for cls in sorted(by_class):
        members = by_class[cls]
        order = rng.permutation(len(members))
        n_val = round(len(members) * val_fraction)
        if len(members) >= 2:
            n_val = min(max(n_val, 1), len(members) - 1)
        chosen = {int(i) for i in order[:n_val]}
        for i, s in enumerate(members):
            (val if i in chosen else train).append(s)
    return train, val
