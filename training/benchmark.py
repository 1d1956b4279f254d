"""`dermscreen-train benchmark MODEL.onnx`: the evaluation suite on a model file.

The suite itself lives in the app (:mod:`desktop_app.core.evaluation.suite`,
also behind `dermscreen evaluate --suite`), so a model card's figures are the
ones a user reproduces with the app; this wraps it with a comparison model and
JSON + Markdown output for cards and ACCURACY.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from desktop_app.core.evaluation.suite import (
    engine_scorer,
    format_suite,
    run_suite,
    scores_from_report,
)


def benchmark(
    model: Path,
    data_root: Path,
    *,
    compare_to: Path | None = None,
    out_stem: Path | None = None,
    n_resamples: int = 2000,
    limit: int | None = None,
    progress: Callable[[str], None] = print,
    known_scores: dict[str, float] | None = None,
) -> dict[str, Any]:
    """Run the suite on ``model`` (paired against ``compare_to``: a model file or suite JSON).

    ``known_scores`` (path relative to ``data_root`` -> score of this same model file, e.g.
    the build's own engine run on validation) are used instead of scoring those images again.
    """
    from training.run import atomic_write_text, write_json

    other: dict[str, float] | None = None
    other_name = ""
    if compare_to is not None:
        compare_to = Path(compare_to)
        if compare_to.suffix.lower() == ".json":
            other = scores_from_report(compare_to)
        else:
            progress(f"scoring the comparison model {compare_to}")
            other_scorer, other_info = engine_scorer(compare_to)
            other_report = run_suite(other_scorer, other_info, data_root, limit=limit,
                                     n_resamples=n_resamples, progress=progress)
            other = {k: v for k, v in other_report["scores"].items() if v is not None}
            if out_stem is not None:
                stem = Path(out_stem).with_name(Path(out_stem).name + "-compared")
                write_json(stem.with_suffix(".json"), other_report)
        other_name = compare_to.stem
    scorer, info = engine_scorer(model)
    if known_scores:
        scorer = _memo(scorer, Path(data_root), known_scores)
    report = run_suite(scorer, info, data_root, other_scores=other, other_name=other_name,
                       limit=limit, n_resamples=n_resamples, progress=progress)
    text = format_suite(report)
    progress(text)
    if out_stem is not None:
        out_stem = Path(out_stem)
        write_json(out_stem.with_suffix(".json"), report)
        atomic_write_text(out_stem.with_suffix(".md"), text)
        progress(f"wrote {out_stem.with_suffix('.json')} and .md")
    return report


def _memo(scorer, root: Path, known: dict[str, float]):
    """``scorer`` that reads the scores it already has (by path under ``root``)."""

    def score(paths: list[Path]) -> list[float | None]:
        rel = [Path(p).relative_to(root).as_posix() for p in paths]
        todo = [p for p, r in zip(paths, rel, strict=True) if r not in known]
        fresh = dict(zip([Path(p).relative_to(root).as_posix() for p in todo],
                         scorer(todo) if todo else [], strict=True))
        return [known[r] if r in known else fresh[r] for r in rel]

    return score
