"""``dermscreen``: the GUI, headless batch analysis and local validation.

    dermscreen [--open PATH ...] [--model FILE]        start the GUI
    dermscreen analyse PATH... [--out DIR] [--recursive] [--alpha A | --threshold T]
                       [--pdf] [--model FILE] [--workers N]
                                                       batch analysis -> results.csv (+ PDFs)
    dermscreen evaluate DATA_DIR [--model FILE] [--alpha A] [--json OUT] [--resamples N]
                                                       local validation on labelled images
    dermscreen send OUT --to AE@host:port              C-STORE analyse --dicom's objects to a PACS
    dermscreen --version

``analyze`` is accepted for ``analyse``. The CSV's columns are listed by
``dermscreen analyse --help`` (from :mod:`desktop_app.core.wording.texts`).

Exit codes: 0 the command ran (even when some files were bad: they are error
rows), 2 bad usage, 3 the model is missing or invalid, 4 the output folder
cannot be written or another run holds it, 128 + signal when stopped (130
Ctrl-C, 143 SIGTERM, 129 SIGHUP; the rows finished so far are in
results.partial.csv). The window exits 1 when it cannot start (no display, an
unknown QT_QPA_PLATFORM). A closed or full stdout never changes the exit code.

Modules: :mod:`~desktop_app.cli.options` (exit codes, argument types), :mod:`~desktop_app.cli.parser` (top-level
parser), :mod:`~desktop_app.cli.commands.analyse`, :mod:`~desktop_app.cli.commands.evaluate`
(one command each, with its sub-parser), :mod:`~desktop_app.cli.engine_run`
(model loading, the engine pass), :mod:`~desktop_app.cli.interrupt` (signals),
:mod:`~desktop_app.cli.progress` (progress bar), :mod:`~desktop_app.cli.terminal`
(printing data safely).
"""

from __future__ import annotations

from desktop_app.cli.main import main

__all__ = ["main"]
