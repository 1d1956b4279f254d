"""One version source: the package metadata, also as desktop_app.__version__."""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

import desktop_app
from desktop_app.version import app_version


def test_one_version() -> None:
    assert app_version() == version("dermscreen") == desktop_app.__version__


def test_bare_checkout_says_unknown(tmp_path: Path) -> None:
    import shutil
    import subprocess
    import sys

    from tests.support.data import REPO

    # A checkout that was never pip-installed: the package alone (the repository itself
    # holds dermscreen.egg-info after `pip install -e .`), and -S: no site-packages.
    bare = tmp_path / "checkout"
    shutil.copytree(REPO / "desktop_app", bare / "desktop_app",
                    ignore=shutil.ignore_patterns("__pycache__"))
    done = subprocess.run(
        [sys.executable, "-S", "-c",
         f"import sys; sys.path.insert(0, {str(bare)!r}); import desktop_app; "
         "print(desktop_app.__version__)"],
        capture_output=True, text=True, timeout=120, check=True, cwd=bare,
    )
    assert done.stdout.strip() == "unknown"
