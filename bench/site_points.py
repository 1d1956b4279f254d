"""Per site: sensitivity and specificity at the validation screening point (issue 34).

For each suite JSON (``dermscreen-train benchmark ... --out X`` or ``bench/peer.py``), the
screening threshold is the one with 90% sensitivity on the suite's own validation malignant
scores (the same rule as the models' "validation sensitivity 90%" point); then every set's
sensitivity and specificity there. How far specificity moves between sites says how well the
operating point travels (smaller spread is better).

    .venv/bin/python bench/site_points.py NAME=SUITE.json [NAME=SUITE.json ...]
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SCREENING_SENSITIVITY = 0.90


def site_table(report: dict, data_root: Path) -> tuple[float, dict[str, tuple[float, float, int, int]]]:
    """(threshold, set -> (sensitivity, specificity, n malignant, n benign))."""
    from desktop_app.core.evaluation.suite import EVALUATION_SETS, VALIDATION, suite_samples

    scores = report["scores"]
    out = {}
    samples = suite_samples(data_root)
    val = [(scores[s.path.relative_to(data_root).as_posix()], s.is_malignant)
           for s in samples[VALIDATION]]
    mal = np.sort([v for v, m in val if m and v is not None])
    # The highest threshold that keeps at least 90% of validation malignant scores at or above it.
    threshold = float(mal[int(np.floor((1 - SCREENING_SENSITIVITY) * len(mal)))])
    for name in (VALIDATION, *EVALUATION_SETS):
        rows = [(scores[s.path.relative_to(data_root).as_posix()], s.is_malignant)
                for s in samples[name]]
        s = np.array([v for v, _ in rows if v is not None], np.float64)
        y = np.array([m for v, m in rows if v is not None])
        out[name] = (float((s[y] >= threshold).mean()), float((s[~y] < threshold).mean()),
                     int(y.sum()), int((~y).sum()))
    return threshold, out


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("suites", nargs="+", metavar="NAME=SUITE.json")
    p.add_argument("--data", type=Path, required=True)
    args = p.parse_args(argv)
    print("| Row | T (val sens 90%) | " + " | ".join(
        ["validation", "ham-extra-eval", "isic9-test", "isic2017-eval", "uda1-external"])
        + " | spread of specificity (eval sets) |")
    print("|---" * 8 + "|")
    for item in args.suites:
        name, path = item.split("=", 1)
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        t, table = site_table(report, args.data)
        specs = [v[1] for k, v in table.items() if k != "validation"]
        cells = " | ".join(f"sens {100 * v[0]:.0f}% / spec {100 * v[1]:.0f}%" for v in table.values())
        print(f"| {name} | {t:.4g} | {cells} | {100 * (max(specs) - min(specs)):.0f} points |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
