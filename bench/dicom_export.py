"""What the DICOM results add to Export All Reports, and what printing the patient on the
PDF stored in PACS costs.

On N real melanoma images made into Dermoscopy DICOM objects (all flagged, threshold 0),
times :func:`desktop_app.reports.batch.write_batch_reports` with PDFs (no DICOM) and
:func:`desktop_app.reports.dicom.write.write_reports_with_dicom` with ``show_patient`` off
(the folder's PDF without identity, so each case page is rendered a second time for the
encapsulated PDF) and on (rendered once), in one run, and prints medians and ratios.

    python bench/dicom_export.py [--images 8] [--runs 3] [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    args = parser.parse_args()

    from desktop_app.core.base.paths import DEFAULT_MODEL_NAME, bundled_models_dir
    from desktop_app.core.inference.engine import Engine
    from desktop_app.core.model.model_file import load_model
    from desktop_app.reports.batch import verified_explainer, write_batch_reports
    from desktop_app.reports.context import ReportContext
    from desktop_app.reports.dicom.write import write_reports_with_dicom
    from tests.support import dicom_inputs as di

    sources = sorted((args.data / "isic9").glob("Test/melanoma/*.jpg"))[: args.images]
    if len(sources) < args.images:
        print(f"need {args.images} melanoma images under {args.data}/isic9/Test")
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "in"
        inputs.mkdir()
        for i, jpeg in enumerate(sources):
            di.dermoscopy_jpeg(jpeg, inputs / f"IM{i:04d}.dcm")
        model = load_model(bundled_models_dir() / DEFAULT_MODEL_NAME, prefer_gpu=False)
        engine = Engine(model, workers=1)
        results = engine.analyze_all([inputs], threshold=0.0)
        explain = verified_explainer(engine)

        def pdf_only(out: Path) -> None:
            write_batch_reports(out, results, model, 0.0, inputs=[inputs], pdf=True,
                                explain=explain, context=ReportContext())

        def with_dicom(show: bool) -> Callable[[Path], None]:
            def run(out: Path) -> None:
                write_reports_with_dicom(out, results, model, 0.0, point_name="bench",
                                         explain=explain, inputs=[inputs],
                                         context=ReportContext(show_patient=show))
            return run

        kinds = {"PDFs only": pdf_only, "PDFs + DICOM, identity off": with_dicom(False),
                 "PDFs + DICOM, identity on": with_dicom(True)}
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for _ in range(args.runs):
            for name, run in kinds.items():  # interleaved: load changes hit all alike
                out = Path(tmp) / "out"
                shutil.rmtree(out, ignore_errors=True)
                started = time.perf_counter()
                run(out)
                times[name].append(time.perf_counter() - started)
    base = statistics.median(times["PDFs only"])
    print(f"{len(results)} flagged cases, median of {args.runs} runs:")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<28} {median:6.2f} s   x{median / base:.2f} of PDFs only")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
