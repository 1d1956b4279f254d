"""DermScreen desktop_app package."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # Looked up lazily: reading package metadata costs start-up time nobody needs.
    if name == "__version__":
        from desktop_app.version import app_version

        return app_version()
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
