"""``dermscreen analyse`` as a clinical document writer, through the real CLI process:
--case-id, --case-id-from-subfolder, --clinician, --full-paths; unsupported images in a
folder become rows; the summary lists every case with page numbers."""

from __future__ import annotations

import shutil
from pathlib import Path

from PIL import Image

from desktop_app.core.model.model_file import read_metadata
from desktop_app.core.model.operating_points import borderline_low
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.version import app_version
from tests.desktop_app.cli.conftest import run_cli_process
from tests.desktop_app.reports.pdf_tools import pdf_cells_text, pdf_text


def _clinic_folder(root: Path, isic9_test_files: list[Path]) -> Path:
    """Two patients' subfolders of real images, a GIF and some non-image files."""
    for n, src in enumerate(isic9_test_files[:6]):
        sub = root / ("Smith, John" if n < 3 else "Doe, Jane")
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, sub / src.name)
    Image.new("RGB", (16, 16), (200, 10, 10)).save(root / "Doe, Jane" / "dermoscope.gif")
    (root / "Doe, Jane" / "scan.heic").write_bytes(b"\x00\x00\x00\x18ftypheic" + b"\0" * 64)
    for name in ("notes.txt", "list.csv", "meta.json", "README.md", "letter.pdf"):
        (root / name).write_text("not an image", encoding="utf-8")
    return root


def test_case_id_clinician_and_relative_paths_in_csv_and_pdfs(
        model_path: Path, isic9_test_files: list[Path], tmp_path: Path) -> None:
    images = _clinic_folder(tmp_path / "melanoma clinic", isic9_test_files)
    out = tmp_path / "out"
    done = run_cli_process("analyse", images, "--recursive", "--out", out, "--model", model_path,
                           "--pdf", "--threshold", "0.12", "--case-id", "BATCH-7",
                           "--case-id-from-subfolder", "--clinician", "Dr. Ada Lovelace")
    assert done.returncode == 0, done.stderr
    rows = read_results_csv(out / "results.csv")
    # 6 images and the two unsupported image files; text, CSV, JSON, MD and PDF are skipped.
    assert len(rows) == 8
    errors = {r["file_name"]: r for r in rows if r["status"] == "error"}
    assert set(errors) == {"dermoscope.gif", "scan.heic"}
    assert errors["dermoscope.gif"]["error"].startswith("unsupported image format GIF")
    assert errors["scan.heic"]["error"].startswith("unsupported image format HEIC")
    assert {r["error_code"] for r in errors.values()} == {"unsupported_format"}
    band_low = borderline_low(read_metadata(model_path), 0.12)  # the band moves with the point
    assert band_low is not None and band_low < 0.12  # the bundled model's borderline band
    for row in rows:
        folder = row["path"].split("/")[0]
        assert folder in ("Smith, John", "Doe, Jane") and "melanoma clinic" not in row["path"]
        assert row["case_id"] == folder  # named by the patient's subfolder
        assert row["clinician"] == "Dr. Ada Lovelace" and row["app_version"] == app_version()
        assert row["reviewed"] == "" and row["review_note"] == ""  # not recorded by the CLI
        if row["status"] == "ok":
            score = float(row["score"])
            assert row["triage"] == ("flagged" if score > 0.12 else
                                     "borderline" if score > band_low else "not flagged")
        else:
            assert row["triage"] == "error"
    summary = pdf_text(out / "summary.pdf")
    assert "Page 1 of" in summary and "Dr. Ada Lovelace" in summary
    assert f"All {len(rows)} cases" in summary
    cells = pdf_cells_text(out / "summary.pdf")
    for row in rows:  # every case is listed, by its path relative to the opened folder
        assert row["path"] in cells
    assert "melanoma clinic" not in summary
    # A case PDF for each flagged and each borderline case.
    needs_case = [r for r in rows if r["triage"] in ("flagged", "borderline")]
    assert len(list(out.glob("case-*.pdf"))) == len(needs_case) > 0
    for case in out.glob("case-*.pdf"):
        assert case.name in cells  # the summary's case-report column links each one
        text = pdf_text(case)
        assert "Page 1 of" in text and "Reviewing clinician Dr. Ada Lovelace" in text
        assert "melanoma clinic" not in text

    full = tmp_path / "full"
    again = run_cli_process("analyse", images, "--recursive", "--out", full, "--model",
                            model_path, "--case-id", "=1+1", "--full-paths")
    assert again.returncode == 0, again.stderr
    rows = read_results_csv(full / "results.csv")
    assert all(Path(r["path"]).is_absolute() and "melanoma clinic" in r["path"] for r in rows)
    assert {r["case_id"] for r in rows} == {"=1+1"}
    assert "'=1+1" in (full / "results.csv").read_text(encoding="utf-8-sig")  # never a formula


def test_help_lists_the_new_options_and_columns() -> None:
    done = run_cli_process("analyse", "--help")
    assert done.returncode == 0
    for text in ("--case-id", "--case-id-from-subfolder", "--clinician", "--full-paths",
                 "triage", "review_note", "case_id", "app_version"):
        assert text in done.stdout
