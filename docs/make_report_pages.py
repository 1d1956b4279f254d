"""Render the first page of a real case report (the referral PDF) into docs/screenshots.

    python docs/make_report_pages.py [--out docs/screenshots] [--dpi 110]

Analyses the isic9 Test melanoma images from ../shared/data with the bundled default model,
writes the case report of the highest-scoring one through the app's own writer, as if it
came from a DICOM object with a (made-up) patient identity, body site and lesion, reviewed
by a named clinician, and renders its first page with poppler's pdftoppm:
  case_report.png   the case PDF's first page
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data" / "isic9"


@dataclass(frozen=True)
class _Review:
    reviewed: bool
    note: str
    reviewer: str = ""
    reviewed_at: str = "2026-12-06T09:40:00+00:00"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args(argv)
    if shutil.which("pdftoppm") is None:
        print("pdftoppm (poppler-utils) is needed: installers/system-packages.sh", file=sys.stderr)
        return 2
    sys.path.insert(0, str(REPO))
    from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
    from desktop_app.core.imaging.dicom_case import DicomCase
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import load_model
    from desktop_app.reports.context import ReportContext
    from desktop_app.reports.pdf.case_report import write_case_pdf
    from desktop_app.reports.pdf.render import ensure_gui_app

    ensure_gui_app()
    model = load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)
    engine = Engine(model, workers=1)
    files = sorted((DATA / "Test" / "melanoma").glob("*.jpg"))[:12]
    if not files:
        print(f"no images in {DATA / 'Test' / 'melanoma'}", file=sys.stderr)
        return 2
    result = max((r for r in engine.analyze_all(files) if r.ok), key=lambda r: r.score or 0.0)
    # A made-up identity, as a DICOM source would carry it (the case PDF prints its header's).
    result = replace(result, dicom=DicomCase(
        study_instance_uid="1.2.826.0.1.3680043.8.498.1", sop_instance_uid="1.2.826.0.1.3680043.8.498.2",
        study_date="20261206", body_site="Upper back", lesion_id="2", patient_id="DEMO-0001",
        patient_name="Sample^Alex", patient_birth_date="19610314", patient_sex="F"))
    context = ReportContext(
        clinician="Dr. Ada Lovelace", history="pigmented lesion changed in colour over 4 months",
        reviews={result.image_sha256: _Review(True, "irregular network; refer for excision")})
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        pdf = write_case_pdf(Path(tmp) / "case.pdf", result, engine.explain(result.path),
                             model.metadata, context=context)
        prefix = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", str(args.dpi), "-f", "1", "-l", "1",
                        "-singlefile", str(pdf), str(prefix)], check=True, timeout=120)
        target = args.out / "case_report.png"
        shutil.copyfile(prefix.with_suffix(".png"), target)
    print(f"wrote {target} ({result.path.name}, score {result.score:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
