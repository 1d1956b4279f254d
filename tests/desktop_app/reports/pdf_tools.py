"""Open PDFs the way a user's viewer would: poppler's pdftoppm and pdftotext."""

from __future__ import annotations

import shutil
import subprocess
import unicodedata
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def render_first_page(pdf: Path, out_dir: Path, dpi: int = 50) -> np.ndarray:
    """The PDF's first page as an RGB array (fails the test if poppler cannot open it)."""
    if shutil.which("pdftoppm") is None:
        pytest.fail("pdftoppm (poppler-utils) is needed to check PDFs")
    prefix = out_dir / f"{pdf.stem}-page"
    subprocess.run(["pdftoppm", "-png", "-r", str(dpi), "-f", "1", "-l", "1", str(pdf), str(prefix)],
                   check=True, capture_output=True, timeout=120)
    pages = sorted(out_dir.glob(f"{prefix.name}*.png"))
    assert pages, f"pdftoppm rendered no page from {pdf}"
    with Image.open(pages[0]) as img:
        return np.asarray(img.convert("RGB"))


def assert_not_blank(page: np.ndarray) -> None:
    assert page.shape[0] > 300 and page.shape[1] > 200
    assert float(page.astype(np.float32).var()) > 100.0, "the rendered page is blank"
    # Colour is present (heatmap, decision, plot), not only black text.
    spread = page.astype(np.int16).max(axis=2) - page.astype(np.int16).min(axis=2)
    assert (spread > 60).mean() > 0.001


def pdf_text(pdf: Path) -> str:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed to check PDFs")
    done = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                          capture_output=True, timeout=120)
    # NFKC folds the typesetter's ligatures ("ﬁ") back into letters.
    text = unicodedata.normalize("NFKC", done.stdout.decode("utf-8", "replace"))
    return " ".join(text.split())


def pdf_cells_text(pdf: Path) -> str:
    """The PDF's text in content order (``pdftotext -raw``), a table cell's wrapped lines
    joined again: no space after a break at "/" or "-" (where paths and names wrap)."""
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext (poppler-utils) is needed to check PDFs")
    done = subprocess.run(["pdftotext", "-raw", str(pdf), "-"], check=True,
                          capture_output=True, timeout=120)
    text = unicodedata.normalize("NFKC", done.stdout.decode("utf-8", "replace"))
    text = text.replace("\u200b", "")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if out and out[-1].endswith(("/", "-")):
            out[-1] += line
        else:
            out.append(line)
    return " ".join(" ".join(out).split())
