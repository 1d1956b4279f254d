"""The free peer (PyPI ``sklesion`` 0.2.2, MIT) scored by the project's evaluation suite: a dev tool.

Never shipped and never a dependency: ``pip download sklesion==0.2.2 --no-deps -d DIR`` and
unzip the wheel there, then point ``SKLESION_DIR`` at its ``sklesion`` folder (TensorFlow and
tf2onnx from the train extra run it). Its score is its malignant probability (akiec + bcc +
mel) with age, sex and site unknown, on the classifier's own input (254 px, field of view
cropped: :func:`training.xception.hr_config`); images cached by ``python -m training.xception``
are read from the cache, others computed on demand.

It learned from all of HAM10000, so every set also gets the figures on the images it never
saw (``never_seen``: not ham-extra, ISIC id outside HAM10000's range); ham-extra-eval has none.

    .venv/bin/python bench/peer.py --data ../shared/data --out runs/peer-suite [--compare-to X]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def peer_scorer():
    """A suite scorer: paths -> the peer's malignant probability (cached per file content)."""
    from desktop_app.core.imaging.imageio import file_sha256
    from training.xception import (
        cache_folder,
        cached_peer_pass,
        hr_config,
        load_cached,
        peer_malignant,
    )

    cfg = hr_config()

    def score(paths: list[Path]) -> list[float | None]:
        shas = [file_sha256(p) for p in paths]
        missing = [i for i, sha in enumerate(shas) if not (cache_folder(cfg) / f"{sha}.npy").exists()]
        if missing:
            cached_peer_pass([paths[i] for i in missing], [shas[i] for i in missing], cfg)
        _, probs = load_cached(shas, cfg)
        return [float(v) for v in peer_malignant(probs)]

    return score


def never_seen_figures(report: dict[str, Any], data_root: Path) -> dict[str, Any]:
    """Per set, the AUROC (with CI) on the images the peer never trained on."""
    from desktop_app.core.evaluation import metrics
    from desktop_app.core.evaluation.suite import suite_samples
    from training.xception import peer_trained_on

    out: dict[str, Any] = {}
    for name, samples in suite_samples(data_root).items():
        rel = [s.path.relative_to(data_root).as_posix() for s in samples]
        fresh = np.array([not peer_trained_on(s.path) for s in samples])
        y = np.array([s.is_malignant for s in samples])[fresh]
        s = np.array([report["scores"][r] for r in rel], np.float64)[fresh]
        entry: dict[str, Any] = {"n": int(fresh.sum()), "n_trained_on": int((~fresh).sum())}
        if y.any() and (~y).any():
            lo, hi = metrics.bootstrap_ci(y, s, metrics.roc_auc, n_resamples=2000, seed=0)
            entry["auroc"] = {"value": metrics.roc_auc(y, s), "ci95": [lo, hi]}
        out[name] = entry
    return out


def main(argv: list[str] | None = None) -> int:
    from desktop_app.core.evaluation.suite import format_suite, run_suite, scores_from_report
    from training.run import atomic_write_text, write_json
    from training.xception import LICENCE, PACKAGE, VERSION

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, help="output stem (.json and .md)")
    p.add_argument("--compare-to", type=Path, default=None,
                   help="another model's suite JSON: paired gains of the peer over it")
    args = p.parse_args(argv)
    info = {"name": f"peer: PyPI {PACKAGE}", "version": VERSION, "sha256": "-",
            "file": f"{PACKAGE} {VERSION} model.keras ({LICENCE})", "threshold": 0.5,
            "benign_stats": {}}
    other = scores_from_report(args.compare_to) if args.compare_to else None
    report = run_suite(peer_scorer(), info, args.data, other_scores=other,
                       other_name=args.compare_to.stem if args.compare_to else "",
                       progress=print)
    report["never_seen"] = never_seen_figures(report, args.data)
    text = format_suite(report)
    lines = ["", "Images the peer never trained on (HAM10000 left out):"]
    for name, e in report["never_seen"].items():
        a = e.get("auroc")
        shown = (f"{a['value']:.3f} [{a['ci95'][0]:.3f}, {a['ci95'][1]:.3f}]" if a else "-")
        lines.append(f"  {name}: {e['n']} images ({e['n_trained_on']} trained on) AUROC {shown}")
    text += "\n".join(lines) + "\n"
    print(text)
    write_json(args.out.with_suffix(".json"), report)
    atomic_write_text(args.out.with_suffix(".md"), text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
