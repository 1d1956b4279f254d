"""PDFs are checked for a complete structure before they replace a file; write errors name their cause."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from desktop_app.core.model.model_file import read_metadata
from desktop_app.reports.pdf.layout import check_pdf_structure
from desktop_app.reports.pdf.report import write_summary_pdf
from tests.desktop_app.core.contract_model import REFERENCE_MODEL
from tests.desktop_app.reports.pdf_tools import pdf_text

REPO = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def summary_bytes(tmp_path_factory: pytest.TempPathFactory, qapp: QApplication) -> bytes:
    meta = read_metadata(REFERENCE_MODEL)
    target = tmp_path_factory.mktemp("pdf") / "summary.pdf"
    write_summary_pdf(target, [], meta, meta.threshold, model_sha256="a" * 64, provider="CPU")
    assert "DermScreen batch summary" in pdf_text(target)  # poppler opens what was written
    return target.read_bytes()


def test_a_complete_qt_pdf_passes(summary_bytes: bytes) -> None:
    check_pdf_structure(summary_bytes)


@pytest.mark.parametrize("keep", [0.999, 0.9, 0.5, 0.1])
def test_truncated_pdfs_fail(summary_bytes: bytes, keep: float) -> None:
    cut = summary_bytes[: int(len(summary_bytes) * keep)]
    assert cut.startswith(b"%PDF-")  # the old check (header only) let these through
    with pytest.raises(ValueError, match=r"truncated|outside|trailer|cross-reference"):
        check_pdf_structure(cut)


def test_broken_cross_reference_fails(summary_bytes: bytes) -> None:
    with pytest.raises(ValueError, match="header"):
        check_pdf_structure(b"garbage" + summary_bytes)
    # startxref pointing at the wrong place (e.g. bytes lost in the middle).
    head, _, tail = summary_bytes.rpartition(b"startxref")
    bad = head + b"startxref\n17\n%%EOF\n"
    with pytest.raises(ValueError, match="cross-reference"):
        check_pdf_structure(bad)
    assert tail  # the real file has its startxref


def test_a_write_that_runs_out_of_space_names_its_cause(tmp_path: Path) -> None:
    """A file-size limit (RLIMIT_FSIZE) fails the write like a full disk: EFBIG, not a truncated PDF."""
    target = tmp_path / "summary.pdf"
    target.write_bytes(b"old report")
    code = (
        "import resource, signal, sys\n"
        "from desktop_app.core.model.model_file import read_metadata\n"
        "from desktop_app.core.base.files import FileWriteError\n"
        "from desktop_app.reports.pdf.report import write_summary_pdf\n"
        f"meta = read_metadata({str(REFERENCE_MODEL)!r})\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))\n"
        "try:\n"
        "    write_summary_pdf(sys.argv[1], [], meta, meta.threshold, model_sha256='a' * 64,"
        " provider='CPU')\n"
        "except FileWriteError as exc:\n"
        "    print('ERROR', exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True,
                          text=True, cwd=REPO, timeout=120, check=False,
                          env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("ERROR"), proc.stdout
    assert "file too large" in proc.stdout and "summary.pdf" in proc.stdout
    assert target.read_bytes() == b"old report"  # the old file is left as it was
    assert [p.name for p in tmp_path.iterdir()] == ["summary.pdf"]  # no temp file left behind
