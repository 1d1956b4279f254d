"""The progress bar: drawn on a terminal only."""

from __future__ import annotations

import io

from desktop_app.cli.progress import ProgressBar
from desktop_app.core.inference.engine import Progress


def test_progress_bar_only_on_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        bar = ProgressBar(stream, width=10)
        bar(Progress(0, 4, 0, 0.0, None))
        bar(Progress(4, 4, 1, 2.0, 0.0))
        bar.close()
    assert pipe.getvalue() == ""
    assert "\r[..........] 0/4" in tty.getvalue() and "[##########] 4/4 1 errors" in tty.getvalue()
