"""DermScreen works on an air-gapped workstation: no network use, no network imports."""

from __future__ import annotations

import ast
import csv
import socket
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "desktop_app"

# Modules that would let the app reach a network (or pull in the training stack).
NETWORK_OR_TRAINING = (
    "socket",
    "urllib.request",
    "http.client",
    "requests",
    "urllib3",
    "httpx",
    "aiohttp",
    "ftplib",
    "smtplib",
    "PySide6.QtNetwork",
    "pynetdicom",
    "tensorflow",
    "keras",
    "tf2onnx",
    "onnx",
    "matplotlib",
    "training",
    "export",
)


class NetworkBlocked:
    """Replaces the socket entry points; records every attempt and refuses it.

    Local AF_UNIX sockets (socketpair, used by some standard-library helpers) stay
    allowed: they cannot leave the machine.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.attempts: list[str] = []
        real_socket = socket.socket
        guard = self

        class GuardedSocket(real_socket):
            def __init__(self, family=-1, type=-1, proto=-1, fileno=None):
                is_unix = family == socket.AF_UNIX
                if not is_unix and fileno is None:
                    guard.refuse(f"socket.socket(family={family})")
                super().__init__(family, type, proto, fileno)

            def connect(self, address):
                guard.refuse(f"connect({address!r})")

            def connect_ex(self, address):
                guard.refuse(f"connect_ex({address!r})")

        def refuse_create_connection(address, *args, **kwargs):
            guard.refuse(f"create_connection({address!r})")

        def refuse_getaddrinfo(host, *args, **kwargs):
            guard.refuse(f"getaddrinfo({host!r})")

        def refuse_gethostbyname(host):
            guard.refuse(f"gethostbyname({host!r})")

        monkeypatch.setattr(socket, "socket", GuardedSocket)
        monkeypatch.setattr(socket, "create_connection", refuse_create_connection)
        monkeypatch.setattr(socket, "getaddrinfo", refuse_getaddrinfo)
        monkeypatch.setattr(socket, "gethostbyname", refuse_gethostbyname)

    def refuse(self, what: str) -> None:
        self.attempts.append(what)
        msg = f"network access attempted offline: {what}"
        raise OSError(msg)


@pytest.fixture
def network_blocked(monkeypatch: pytest.MonkeyPatch) -> NetworkBlocked:
    return NetworkBlocked(monkeypatch)


def test_guard_refuses_and_records(network_blocked: NetworkBlocked) -> None:
    """The guard itself works, so an empty record below means something."""
    with pytest.raises(OSError, match="network access attempted"):
        socket.create_connection(("192.0.2.1", 443), timeout=1)
    with pytest.raises(OSError, match="network access attempted"):
        socket.getaddrinfo("pypi.org", 443)
    with pytest.raises(OSError, match="network access attempted"):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    left, right = socket.socketpair()  # local, allowed
    left.close()
    right.close()
    assert len(network_blocked.attempts) == 3


def test_analysis_runs_with_the_network_blocked(
    network_blocked: NetworkBlocked,
    small_model_path: Path,
    isic9_test_files: list[Path],
    tmp_path: Path,
) -> None:
    """A real `dermscreen analyze` (real model, real images, ONNX Runtime) never opens a socket,
    a DICOM input and DICOM results (--dicom) included."""
    from desktop_app.cli import main
    from desktop_app.core.inference.results import CSV_COLUMNS
    from tests.support.dicom_inputs import dermoscopy_jpeg

    # A benign and a malignant class (its folder name has spaces), two images each.
    by_class: dict[str, list[Path]] = {}
    for path in isic9_test_files:
        by_class.setdefault(path.parent.name, []).append(path)
    images = [p for cls in ("nevus", "basal cell carcinoma") for p in by_class[cls][:2]]
    assert len(images) == 4
    images.append(dermoscopy_jpeg(images[-1], tmp_path / "lesion.dcm"))
    out = tmp_path / "out"

    status = main(["analyze", *map(str, images), "--out", str(out), "--model",
                   str(small_model_path), "--dicom", "--patient-id", "P-1",
                   "--patient-name", "Roe^Rita"])

    assert status == 0
    assert network_blocked.attempts == []
    # C-level code is not seen by the Python guard: the process must hold no inet socket.
    assert psutil.Process().net_connections(kind="inet") == []
    report = out / "results.csv"
    assert report.is_file(), f"no CSV written under {out}"
    with report.open(newline="", encoding="utf-8-sig") as fh:  # written with a BOM for Excel
        reader = csv.DictReader(fh)
        rows = list(reader)
        assert tuple(reader.fieldnames or ()) == CSV_COLUMNS
    assert [Path(r["path"]).name for r in rows] == [p.name for p in images]
    assert all(r["status"] == "ok" for r in rows)
    assert all(float(r["score"]) >= 0 for r in rows)
    assert {r["triage"] for r in rows} <= {"flagged", "borderline", "not flagged"}
    assert len(list((out / "dicom").glob("*-sr.dcm"))) == len(images)


def imported_modules(source: Path) -> set[str]:
    """Every module a file imports, at any depth (``import a.b`` -> ``a.b``)."""
    tree = ast.parse(source.read_text(encoding="utf-8"), filename=str(source))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def forbidden_imports(names: set[str]) -> set[str]:
    return {
        name for name in names
        if any(name == bad or name.startswith(bad + ".") for bad in NETWORK_OR_TRAINING)
    }


def test_forbidden_import_check_catches_them(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import os\nimport urllib.request\nfrom http import client\n"
        "def f():\n    import tensorflow as tf\n    from socket import create_connection\n",
        encoding="utf-8",
    )
    found = forbidden_imports(imported_modules(sample))
    assert found == {"urllib.request", "http.client", "tensorflow", "socket",
                     "socket.create_connection"}


# The one network use: sending a run's DICOM objects to the PACS the user names (dermscreen
# send, File > Send to PACS), in this one module; analysis itself never touches the network.
NETWORK_ALLOWED = {"desktop_app/reports/dicom/send.py": [
    "pynetdicom", "pynetdicom.AE", "pynetdicom.presentation", "pynetdicom.presentation.build_context",
    "socket",  # the PACS host resolved and its port tried first, so a refusal is said in words
]}


def test_no_app_module_imports_network_or_training_code() -> None:
    sources = sorted(APP.rglob("*.py"))
    assert len(sources) > 10  # the app is there, not an empty folder
    offenders = {
        str(path.relative_to(REPO)): sorted(found)
        for path in sources
        if (found := forbidden_imports(imported_modules(path)))
    }
    assert offenders == NETWORK_ALLOWED
