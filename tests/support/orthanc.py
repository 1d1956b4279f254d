"""A real PACS for the tests: Orthanc on loopback, with a generated config, stopped after.

``orthanc`` (a pytest fixture) starts the Debian package's ``Orthanc`` binary on
free DICOM and HTTP ports of 127.0.0.1 with its storage in tmp_path and no
authentication (loopback only), waits (with a timeout) until its REST API
answers, and always stops it afterwards (SIGTERM, then SIGKILL after a timeout).
Skips only when the binary is missing; installers/system-packages.sh installs it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
AE_TITLE = "ORTHANCTEST"


def orthanc_binary() -> str | None:
    return shutil.which("Orthanc") or shutil.which("Orthanc", path="/usr/sbin:/usr/local/sbin")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class OrthancServer:
    """A running Orthanc: where to send, and its REST API."""

    dicom_port: int
    http_port: int
    ae_title: str
    log: Path

    @property
    def address(self) -> str:
        return f"{self.ae_title}@127.0.0.1:{self.dicom_port}"

    def get(self, route: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.http_port}{route}", timeout=10) as r:
            return json.loads(r.read().decode("utf-8"))

    def post(self, route: str, body: Any) -> Any:
        req = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{route}",
                                     data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read().decode("utf-8"))

    def instances(self) -> list[dict[str, Any]]:
        """Every stored instance with its main tags (study, series, SOP instance UID...)."""
        return self.post("/tools/find", {"Level": "Instance", "Query": {}, "Expand": True})


@pytest.fixture
def orthanc(tmp_path: Path) -> Iterator[OrthancServer]:
    yield from _run_orthanc(tmp_path, {})


# A PACS that stores only from the AE titles it knows (the usual hospital set-up).
KNOWN_CALLER = "FRIEND"


@pytest.fixture
def orthanc_known_callers_only(tmp_path: Path) -> Iterator[OrthancServer]:
    """Orthanc that accepts associations only from :data:`KNOWN_CALLER` on 127.0.0.1."""
    yield from _run_orthanc(tmp_path, {
        "DicomAlwaysAllowEcho": False, "DicomAlwaysAllowStore": False,
        "DicomCheckModalityHost": True,
        "DicomModalities": {"friend": [KNOWN_CALLER, "127.0.0.1", 104]}})


def _run_orthanc(tmp_path: Path, extra: dict[str, Any]) -> Iterator[OrthancServer]:
    binary = orthanc_binary()
    if binary is None:
        pytest.skip("Orthanc is not installed (installers/system-packages.sh installs it)")
    root = tmp_path / "orthanc"
    (root / "db").mkdir(parents=True)
    dicom_port, http_port = free_port(), free_port()
    while http_port == dicom_port:
        http_port = free_port()
    config = {
        "Name": "DermScreen test PACS",
        "StorageDirectory": str(root / "db"),
        "IndexDirectory": str(root / "db"),
        "DicomAet": AE_TITLE,
        "DicomPort": dicom_port,
        "HttpPort": http_port,
        "RemoteAccessAllowed": False,  # loopback only, so no authentication is needed
        "AuthenticationEnabled": False,
        "DicomCheckCalledAet": True,
        "Plugins": [],
        "DicomModalities": {},
        "HttpServerEnabled": True,
        "SaveJobs": False,
        **extra,
    }
    (root / "orthanc.json").write_text(json.dumps(config), encoding="utf-8")
    log = root / "orthanc.log"
    with log.open("wb") as log_fh:
        proc = subprocess.Popen([binary, str(root / "orthanc.json")], stdout=log_fh,
                                stderr=subprocess.STDOUT, cwd=root)
    server = OrthancServer(dicom_port, http_port, AE_TITLE, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"Orthanc exited with {proc.returncode}: {log.read_text()[-2000:]}")
            try:
                server.get("/system")
                socket.create_connection(("127.0.0.1", dicom_port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"Orthanc did not answer within {START_TIMEOUT_S:g} s: "
                                f"{log.read_text()[-2000:]}")
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=STOP_TIMEOUT_S)
