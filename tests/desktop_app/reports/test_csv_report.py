"""results.csv: BOM, fixed columns, input order, Excel-friendly, atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core.inference.results import CSV_COLUMNS, error_result, ok_result
from desktop_app.core.model.score_stats import BenignStats
from desktop_app.reports.context import ReportContext
from desktop_app.reports.csv_report import columns_help, read_results_csv, write_results_csv

INFO = {"model_name": "cae", "model_version": "1", "model_sha256": "f" * 64, "provider": "CPU"}


def test_bom_header_order_and_unicode(tmp_path: Path) -> None:
    stats = BenignStats.from_scores(np.linspace(0.01, 0.03, 50))
    rows = [
        error_result(index=1, path=Path("/data/Müller, José/leer.jpg"), error="file is empty",
                     error_code="empty_file", image_sha256="", model_info=INFO, seconds=0.0),
        ok_result(index=0, path=Path("/data/Müller, José/läsion \"1\".jpg"), score=0.05,
                  threshold=0.02, stats=stats, image_sha256="e" * 64, model_info=INFO, seconds=0.1),
    ]
    target = write_results_csv(tmp_path / "results.csv", rows, ReportContext(full_paths=True))
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM for Excel
    header = raw[3:].split(b"\r\n", 1)[0].decode()
    assert tuple(header.split(",")) == CSV_COLUMNS
    back = read_results_csv(target)
    assert [r["index"] for r in back] == ["0", "1"]  # input order, not completion order
    assert back[0]["path"] == "/data/Müller, José/läsion \"1\".jpg"  # quoting survives
    assert back[0]["triage"] == "flagged" and back[0]["percentile"] == "100.0"
    assert back[1]["status"] == "error" and back[1]["score"] == "" and back[1]["error"]


def test_empty_batch_writes_header_only(tmp_path: Path) -> None:
    target = write_results_csv(tmp_path / "results.csv", [])
    assert read_results_csv(target) == []
    assert target.read_text(encoding="utf-8-sig").strip() == ",".join(CSV_COLUMNS)


def test_columns_help_lists_every_column() -> None:
    text = columns_help()
    assert all(f"  {name}" in text for name in CSV_COLUMNS)


def test_formula_names_and_control_characters_are_neutralised(tmp_path: Path) -> None:
    """OWASP CSV injection: a file or model named like a formula lands as text, never as a formula."""
    stats = BenignStats.from_scores(np.linspace(0.01, 0.03, 50))
    info = {**INFO, "model_name": "=cmd|' /C calc'!A0", "model_version": "+1\x1b[31m"}
    evil = Path('/data/=HYPERLINK("evil.example";"x").jpg')
    rows = [
        ok_result(index=0, path=evil, score=0.05, threshold=0.02, stats=stats,
                  image_sha256="e" * 64, model_info=info, seconds=0.1),
        ok_result(index=1, path=Path("/data/@lesion\nforged,row.jpg"), score=0.001,
                  threshold=0.02, stats=stats, image_sha256="e" * 64, model_info=info,
                  seconds=0.1),
    ]
    target = write_results_csv(tmp_path / "results.csv", rows)
    raw = target.read_bytes().decode("utf-8-sig")
    assert "\x1b" not in raw and "\n" not in raw.replace("\r\n", "")
    assert raw.count("\r\n") == 3  # header + 2 rows: the newline in a name forged no row
    assert ",'=cmd|' /C calc'!A0," in raw and ",'+1\ufffd[31m," in raw
    assert "\"'=HYPERLINK(" in raw and ",=" not in raw and ",\"=" not in raw
    assert ",'@lesion" in raw or "\"'@lesion" in raw
    # z is negative for the second row: numbers are left numbers.
    assert float(rows[1].to_row()["z"]) < 0 and f",{rows[1].to_row()['z']}," in raw
    back = read_results_csv(target)
    assert back[0]["file_name"] == evil.name and back[0]["model_name"] == info["model_name"]
    assert back[1]["file_name"] == "@lesion\ufffdforged,row.jpg"
    assert back[0]["model_version"] == "+1\ufffd[31m"
