"""Metadata built from a training run."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from desktop_app.core.model.metadata import ModelMetadata
from export.metadata import build_metadata, evaluation_summary
from training.run import load_run, preprocess_config


def test_built_from_the_run_and_round_trips(small_run_dir: Path) -> None:
    info = load_run(small_run_dir)
    md = build_metadata(
        info, "Name", "2.0.0", created="2026-11-25T18:00:00+00:00", extra={"check_score": 0.5}
    )
    assert md.threshold == info.stats.threshold()
    assert md.benign_stats is info.stats
    assert md.preprocess == preprocess_config(info)
    assert md.loss_weights == {"mse": 0.4, "ssim": 0.6}
    assert md.extra["check_score"] == 0.5 and "training" in md.extra
    assert ModelMetadata.from_props(md.to_props()) == md


def test_without_evaluation_the_operating_points_have_no_test_figures(small_run_dir: Path):
    info = dataclasses.replace(load_run(small_run_dir), metrics=None)
    md = build_metadata(info)
    assert md.evaluation == {}
    assert md.operating_points
    assert all(p["test_sensitivity"] is None for p in md.operating_points)
    default = next(p for p in md.operating_points if p["alpha"] == info.stats.alpha)
    assert default["threshold"] == info.stats.threshold()


def test_evaluation_drops_absolute_paths(small_run_dir: Path) -> None:
    metrics = load_run(small_run_dir).metrics
    summary = evaluation_summary(metrics)
    assert summary["test"] == metrics["test"]
    assert "data_dir" not in summary
    text = json.dumps(summary)
    assert str(metrics["data_dir"]) not in text
    excluded = summary["test_excluding_ambiguous"]["excluded"]
    assert all(p.startswith("Test/") for p in excluded)
    assert len(excluded) == len(metrics["test_excluding_ambiguous"]["excluded"])
