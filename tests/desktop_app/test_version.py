"""One version source: the package metadata, also as desktop_app.__version__."""

from __future__ import annotations

from importlib.metadata import version

import desktop_app
from desktop_app.version import app_version


def test_one_version() -> None:
    assert app_version() == version("dermscreen") == desktop_app.__version__


def test_bare_checkout_says_unknown() -> None:
    import subprocess
    import sys

    from tests.support.data import REPO

    # -S: no site-packages, as in a checkout that was never pip-installed.
    done = subprocess.run(
        [sys.executable, "-S", "-c",
         f"import sys; sys.path.insert(0, {str(REPO)!r}); import desktop_app; "
         "print(desktop_app.__version__)"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    assert done.stdout.strip() == "unknown"
