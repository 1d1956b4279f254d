"""Which Qt platform plugins are installed, read before any QApplication exists.

Qt aborts the whole process (SIGABRT, exit 134, no message a user can act on
beyond a plugin list) when ``QT_QPA_PLATFORM`` names a platform plugin it
cannot find. The window checks the name first and exits with a clear message
(:data:`EXIT_NO_WINDOW`) instead. Plugins are found the way Qt finds them: in
``QT_QPA_PLATFORM_PLUGIN_PATH``, in ``platforms/`` under each ``QT_PLUGIN_PATH``
folder and under Qt's own plugin folder; each plugin's key list is read from
its metadata without loading it (:class:`QPluginLoader`).
"""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QLibraryInfo, QPluginLoader

from desktop_app.core.wording.text_safety import limit_length, terminal_safe

# The window could not start: no display, or an unknown platform plugin.
EXIT_NO_WINDOW = 1
_PLATFORM_IID = "org.qt-project.Qt.QPA.QPlatformIntegrationFactoryInterface"


def _plugin_dirs() -> list[Path]:
    dirs = [Path(p) for p in os.environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep)
            if p]
    dirs += [Path(p) / "platforms"
             for p in os.environ.get("QT_PLUGIN_PATH", "").split(os.pathsep) if p]
    dirs.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms")
    return dirs


def available_platforms() -> set[str]:
    """The platform names (``xcb``, ``wayland``, ``offscreen``...) installed plugins offer."""
    names: set[str] = set()
    for folder in _plugin_dirs():
        try:
            files = sorted(p for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
        for path in files:
            meta = QPluginLoader(str(path)).metaData()
            if not str(meta.get("IID", "")).startswith(_PLATFORM_IID):
                continue
            keys = meta.get("MetaData", {}).get("Keys", [])
            names.update(str(k).lower() for k in keys if isinstance(k, str))
    return names


def requested_platforms(value: str | None = None) -> list[str]:
    """The platform names ``QT_QPA_PLATFORM`` asks for, in order (Qt tries a
    ``;``-separated list in turn; ``:`` starts a name's options)."""
    value = os.environ.get("QT_QPA_PLATFORM", "") if value is None else value
    return [part.split(":")[0].strip().lower() for part in value.split(";")
            if part.split(":")[0].strip()]


def unknown_platform_problem() -> str:
    """Why Qt would abort on ``QT_QPA_PLATFORM``, or "" when a plugin it names exists
    (or none is named: Qt then picks its default)."""
    wanted = requested_platforms()
    if not wanted:
        return ""
    available = available_platforms()
    if not available or any(name in available for name in wanted):
        return ""  # no plugins found to compare with (an unusual layout): let Qt judge
    shown = terminal_safe(limit_length(os.environ.get("QT_QPA_PLATFORM", ""), 80))
    return (f"dermscreen: QT_QPA_PLATFORM='{shown}' names no installed Qt "
            f"platform plugin; installed: {', '.join(sorted(available))}.\n"
            "Unset QT_QPA_PLATFORM (or set it to one of those) and start again.")
