"""The app's version: the installed package's, from one place.

Read from the package metadata (pyproject.toml's ``version``) so there is no
second copy to forget; a bare checkout that was never installed says
:data:`UNKNOWN_VERSION`. Also available as ``desktop_app.__version__``.
"""

from __future__ import annotations

from functools import cache

UNKNOWN_VERSION = "unknown"
DISTRIBUTION = "dermscreen"


@cache
def app_version() -> str:
    """``0.1.0``, or ``unknown`` when the package is not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return UNKNOWN_VERSION
