"""Render README screenshots of the real window with a real batch loaded (offscreen).

    python docs/make_screenshots.py [--model FILE] [--out docs/screenshots] [--per-class 3]

Analyses isic9 Test images from ../shared/data (read in place, never copied),
selects the highest-scoring anomalous case and saves, with QWidget.grab():
  main_window.png   the whole window: results table, case views, score panel
  case_viewer.png   the three linked case views at full size
  model_missing.png the window opened without a usable model (banner, analysis off)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DERMSCREEN_SHARED", REPO.parent / "shared")) / "data" / "isic9"
WINDOW_SIZE = (1500, 940)


def pick_images(per_class: int, extra: list[str]) -> list[Path]:
    """The first ``per_class`` Test images of each class, plus the Test files named in ``extra``."""
    files: list[Path] = []
    for class_dir in sorted(p for p in (DATA / "Test").iterdir() if p.is_dir()):
        files.extend(sorted(class_dir.glob("*.jpg"))[:per_class])
    for name in extra:
        files.extend(p for p in sorted((DATA / "Test").glob(f"*/{name}")) if p not in files)
    return files


def wait_for(app: object, condition: Callable[[], bool], what: str, timeout_s: float = 600) -> None:
    from PySide6.QtCore import QEventLoop

    start = time.monotonic()
    while not condition():
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)  # type: ignore[attr-defined]
        if time.monotonic() - start > timeout_s:
            msg = f"timed out after {timeout_s:.0f} s waiting for {what}"
            raise TimeoutError(msg)


def settle(app: object, seconds: float = 0.5) -> None:
    """Let pending paints and thumbnail signals land before grabbing."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents()  # type: ignore[attr-defined]
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=None,
                        help="ONNX model (default: the bundled default model)")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "screenshots")
    parser.add_argument("--per-class", type=int, default=3)
    parser.add_argument("--case", default=None, help="file name of the case to select")
    parser.add_argument("--extra", nargs="*", default=["ISIC_0000054.jpg"],
                        help="Test files to add by name (default: a melanoma in cae2's borderline band)")
    args = parser.parse_args(argv)

    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    # Fresh settings: no recent folders, saved alpha or window size from the user.
    home = tempfile.mkdtemp(prefix="dermscreen-shots-")
    os.environ["DERMSCREEN_HOME"] = home
    sys.path.insert(0, str(REPO))

    from PySide6.QtCore import Qt

    from desktop_app.core.base.paths import default_model_path
    from desktop_app.gui.panels.results_model import COL_SCORE
    from desktop_app.gui.shell.app import create_application
    from desktop_app.gui.shell.main_window import MainWindow

    model = args.model or default_model_path()
    if not model.is_file():
        print(f"model not found: {model}; pass --model FILE", file=sys.stderr)
        return 2
    images = pick_images(args.per_class, args.extra)
    if not images:
        print(f"no images under {DATA / 'Test'}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    app = create_application()

    window = MainWindow(model)
    window.resize(*WINDOW_SIZE)
    window.show()
    wait_for(app, lambda: window.engine is not None or bool(window.model_error), "the model")
    if window.engine is None:
        print(f"model failed to load: {window.model_error}", file=sys.stderr)
        return 1
    window.open_paths([str(p) for p in images])
    wait_for(app, lambda: not window.busy, "the batch")
    window.table.sortByColumn(COL_SCORE, Qt.SortOrder.DescendingOrder)
    visible = window.visible_results()
    # A typical flagged case (the one closest above the threshold) makes a fair
    # example; the top scorers are often odd images (vignetting, rulers, ink).
    flagged = [i for i, r in enumerate(visible) if r.decision == "anomalous"]
    if args.case:
        flagged = [i for i, r in enumerate(visible) if r.path.name == args.case]
    row = flagged[-1] if flagged else 0
    window.select_row(row)
    wait_for(app, lambda: window.shown_case is not None
             and window.shown_case[0].path == visible[row].path, "the case images")
    window.case_viewer.set_opacity(0.45)
    window.table.setFocus()
    # Thumbnails are decoded for the rows on screen (selecting a case may have scrolled).
    settle(app, 0.2)
    first = max(0, window.table.rowAt(0))
    last = window.table.rowAt(window.table.viewport().height() - 1)
    last = len(visible) - 1 if last < 0 else last
    on_screen = [r for r in visible[first : last + 1] if r.status == "ok"]
    wait_for(app, lambda: all(window.results_model.has_thumbnail(r.index) for r in on_screen),
             "thumbnails")
    settle(app)
    window.grab().save(str(args.out / "main_window.png"))
    window.case_viewer.grab().save(str(args.out / "case_viewer.png"))
    window.close()

    broken = Path(home) / "missing-model.onnx"
    bad_window = MainWindow(broken)
    bad_window.resize(1100, 640)
    bad_window.show()
    wait_for(app, lambda: bool(bad_window.model_error), "the model error")
    settle(app)
    bad_window.grab().save(str(args.out / "model_missing.png"))
    bad_window.close()

    counts = window.results_model.counts()
    print(f"analysed {counts['total']} images ({counts['anomalous']} flagged) with {model.name}")
    for name in ("main_window.png", "case_viewer.png", "model_missing.png"):
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
