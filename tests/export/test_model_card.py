"""The model card: figures from the metadata, with the report's beside them."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

from desktop_app.core.model.model_file import read_metadata
from export.model_card import pct, render_model_card, write_model_card


def test_rounding_rule() -> None:
    assert pct(42 / 64) == "65.6%"
    assert pct(31 / 54) == "57.4%"
    assert pct(None) == pct(math.nan) == "n/a"


def test_card_holds_figures_use_limits_and_licence(small_model_path: Path) -> None:
    md = read_metadata(small_model_path)
    card = render_model_card(md, file_name="m.onnx", sha256="ab" * 32)
    test = md.evaluation["test"]
    conf = test["confusion"]
    sens = f"{pct(test['sensitivity']['value'])} ({conf['tp']}/{conf['tp'] + conf['fn']})"
    spec = f"{pct(test['specificity']['value'])} ({conf['tn']}/{conf['tn'] + conf['fp']})"
    lo, hi = test["sensitivity"]["ci95"]
    assert (
        f"| Sensitivity (malignant flagged) | {sens} | {pct(lo)} to {pct(hi)} | 65.6% (42/64) |"
        in card
    )
    assert f"| Specificity (benign passed) | {spec} |" in card
    assert "57.4% (31/54)" in card
    assert f"T = {md.threshold:.5f}" in card
    assert "not a diagnosis" in card
    assert "CC-BY-NC 4.0" in card and "CC-0" in card
    assert "## Limits" in card and "## Operating points" in card
    assert md.model_name in card.splitlines()[0]


def test_written_atomically(small_model_path: Path, tmp_path: Path) -> None:
    md = read_metadata(small_model_path)
    out = write_model_card(tmp_path / "card.md", md)
    assert out.read_text(encoding="utf-8") == render_model_card(md)
    assert [p.name for p in tmp_path.iterdir()] == ["card.md"]


def test_card_regenerated_from_the_model_file_alone(small_model_path: Path, tmp_path: Path):
    """`python -m export.model_card MODEL.onnx` rebuilds the card the export wrote."""
    from export.model_card import card_path, write_card_for_model

    copy = tmp_path / small_model_path.name
    copy.write_bytes(small_model_path.read_bytes())
    written = write_card_for_model(copy)
    assert written == card_path(copy)
    assert written.read_text(encoding="utf-8") == card_path(small_model_path).read_text(
        encoding="utf-8"
    )


def test_card_says_where_the_app_opens_and_the_band(small_model_path: Path) -> None:
    from desktop_app.core.model.operating_points import borderline_low, screening_threshold

    md = read_metadata(small_model_path)
    card = render_model_card(md)
    screening, low = screening_threshold(md), borderline_low(md)
    assert screening is not None and low is not None and low < screening
    assert f"Where the app opens: the screening point, T = {screening:.5f}" in card
    assert f"**not** at the model threshold T = {md.threshold:.5f}" in card
    assert f"a score above {low:.5f} (validation sensitivity 95%)" in card
    # Without the 95% point the card says there is no band.
    bare = replace(md, operating_points=[p for p in md.operating_points
                                         if p["label"] != "validation sensitivity 95%"])
    assert "No borderline band" in render_model_card(bare)


def test_the_suite_data_folder_is_printed_neutral() -> None:
    from export.model_card import neutral_data_root

    text = "Evaluation suite: M 1 (abc), threshold 0.1; data /home/someone/data\n\n| Set |\n"
    assert neutral_data_root(text) == (
        "Evaluation suite: M 1 (abc), threshold 0.1; data SHARED_DATA\n\n| Set |\n")
