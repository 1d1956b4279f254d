"""results.csv: BOM, fixed columns, input order, Excel-friendly, atomic."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from desktop_app.core.results import CSV_COLUMNS, error_result, ok_result
from desktop_app.core.score_stats import BenignStats
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
    assert back[0]["decision"] == "anomalous" and back[0]["percentile"] == "100.0"
    assert back[1]["status"] == "error" and back[1]["score"] == "" and back[1]["error"]


def test_empty_batch_writes_header_only(tmp_path: Path) -> None:
    target = write_results_csv(tmp_path / "results.csv", [])
    assert read_results_csv(target) == []
    assert target.read_text(encoding="utf-8-sig").strip() == ",".join(CSV_COLUMNS)


def test_columns_help_lists_every_column() -> None:
    text = columns_help()
    assert all(f"  {name}" in text for name in CSV_COLUMNS)
