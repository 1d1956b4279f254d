"""Every app test runs with pytest-qt's QApplication alive.

Reports paint with QtGui and, when no Qt application exists, make an offscreen
QGuiApplication of their own (reports.pdf.render.ensure_gui_app), as the CLI needs. In one
test process that app would outlive the test, and the first window test after it aborts the
whole run ("Fatal Python error: Aborted": a QWidget needs a QApplication). Which test wrote the
first PDF decided the outcome, so `pytest tests/desktop_app/reports tests/desktop_app/gui`
crashed while the full suite (gui before reports) passed. One QApplication for the session
makes the order irrelevant.
"""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QApplication


@pytest.fixture(autouse=True)
def _one_qt_application(qapp: QApplication) -> QApplication:
    return qapp
