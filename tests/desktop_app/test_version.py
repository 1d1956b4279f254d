"""One version source: the package metadata, also as desktop_app.__version__."""

from __future__ import annotations

from importlib.metadata import version

import desktop_app
from desktop_app.version import app_version


def test_one_version() -> None:
    assert app_version() == version("dermscreen") == desktop_app.__version__
