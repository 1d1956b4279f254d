"""Send a run's DICOM objects to a PACS: a verification echo, then C-STORE each one (pynetdicom).

``dermscreen send OUT --to AE@host:port`` and the window's File > Send to PACS
use :func:`send_folder`. What makes a resend safe:

- every object is read from its file in ``OUT/dicom``, so a resend carries the
  same SOP Instance UID and a PACS stores it once (it keys instances by that UID);
- ``OUT/dicom/sent.json`` (:data:`LEDGER_NAME`) records, per destination, each
  SOP Instance UID the PACS confirmed; a later send skips those ("already sent"),
  and a failed object is retried (``retries`` times, on a fresh association when
  the first one dropped) without touching the ones that went through.

Every network call has a timeout (connect, association, each DIMSE message).
Messages name the file and its SOP Instance UID, never the patient.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.base.files import atomic_path, utc_now_iso
from desktop_app.reports.dicom.write import DICOM_DIR_NAME, dicom_files

LEDGER_NAME = "sent.json"
DEFAULT_CALLING_AE = "DERMSCREEN"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 2
VERIFICATION = "1.2.840.10008.1.1"
_DEST = re.compile(r"^(?P<ae>[^@]{1,16})@(?P<host>\[[0-9A-Fa-f:.]+\]|[^:@\[\]]+):(?P<port>\d{1,5})$")


class DestinationError(ValueError):
    """``AE@host:port`` could not be understood."""


@dataclass(frozen=True)
class Destination:
    """A PACS's Application Entity title, host and port."""

    ae_title: str
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Destination:
        """``ORTHANC@127.0.0.1:4242`` (an IPv6 host in brackets) -> Destination."""
        match = _DEST.match(text.strip())
        if match is None:
            msg = f"not a PACS address {text!r}: use AE@host:port, e.g. ORTHANC@pacs.local:104"
            raise DestinationError(msg)
        ae = match["ae"].strip()
        if not ae or any(not (ch.isprintable() and ch.isascii()) or ch == "\\" for ch in ae):
            msg = f"AE title {ae!r} must be 1 to 16 printable ASCII characters"
            raise DestinationError(msg)
        port = int(match["port"])
        if not 1 <= port <= 65535:
            msg = f"port {port} is not between 1 and 65535"
            raise DestinationError(msg)
        return cls(ae, match["host"].strip("[]"), port)

    def __str__(self) -> str:
        return f"{self.ae_title}@{self.host}:{self.port}"


@dataclass
class Sent:
    """What happened to one object."""

    path: Path
    sop_instance_uid: str
    status: str  # "sent", "already sent", "failed"
    message: str


@dataclass
class SendReport:
    """What :func:`send_folder` did."""

    destination: Destination
    echo_ok: bool = False
    echo_message: str = ""
    objects: list[Sent] = field(default_factory=list)

    @property
    def failed(self) -> list[Sent]:
        return [o for o in self.objects if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return self.echo_ok and not self.failed


def ledger_path(out_dir: str | Path) -> Path:
    folder = Path(out_dir)
    if (folder / DICOM_DIR_NAME).is_dir():
        folder = folder / DICOM_DIR_NAME
    return folder / LEDGER_NAME


def read_ledger(out_dir: str | Path) -> dict[str, dict[str, Any]]:
    """``{destination: {sop_instance_uid: {"file", "sent_at"}}}``; an unreadable ledger is empty."""
    try:
        data = json.loads(ledger_path(out_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_ledger(out_dir: str | Path, ledger: dict[str, dict[str, Any]]) -> None:
    with atomic_path(ledger_path(out_dir), private=True) as tmp:
        tmp.write_text(json.dumps(ledger, indent=1, sort_keys=True), encoding="utf-8")


def _status_words(status: Any) -> tuple[bool, str]:
    """(stored, words) of a C-STORE response status dataset (None: no response)."""
    if status is None or "Status" not in status:
        return False, "no response (the connection timed out, was aborted or was refused)"
    code = int(status.Status)
    if code == 0x0000:
        return True, "stored"
    if code in (0xB000, 0xB006, 0xB007):
        return True, f"stored with warning 0x{code:04X}"
    comment = str(status.get("ErrorComment", "")).strip()
    return False, f"refused with status 0x{code:04X}{': ' + comment if comment else ''}"


def _association(dest: Destination, calling_ae: str, timeout: float,
                 sop_classes: set[str]) -> Any:
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE
    from pynetdicom.presentation import build_context

    ae = AE(ae_title=calling_ae)
    ae.connection_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    contexts = [build_context(VERIFICATION)]
    contexts += [build_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
                 for uid in sorted(sop_classes)]
    # At most 128 presentation contexts per association (PS3.8); a run writes three classes.
    return ae.associate(dest.host, dest.port, contexts=contexts[:128], ae_title=dest.ae_title)


def send_folder(
    out_dir: str | Path,
    destination: Destination,
    *,
    calling_ae: str = DEFAULT_CALLING_AE,
    timeout: float = DEFAULT_TIMEOUT_S,
    retries: int = DEFAULT_RETRIES,
    say: Callable[[str], None] | None = None,
    cancel: threading.Event | None = None,
) -> SendReport:
    """Echo ``destination``, then C-STORE every object of ``out_dir`` it has not confirmed yet."""
    import pydicom

    report = SendReport(destination)

    def tell(text: str) -> None:
        if say is not None:
            say(text)

    files = dicom_files(out_dir)
    if not files:
        report.echo_message = f"no DICOM objects in {out_dir} (write them with analyse --dicom)"
        return report
    headers: list[tuple[Path, str, str]] = []
    for path in files:
        try:
            ds = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=["SOPClassUID",
                                                                              "SOPInstanceUID"])
            headers.append((path, str(ds.SOPClassUID), str(ds.SOPInstanceUID)))
        except Exception as exc:  # a damaged file is reported, the rest go on
            report.objects.append(Sent(path, "", "failed", f"cannot read ({exc})"))
    key = str(destination)
    ledger = read_ledger(out_dir)
    done = ledger.setdefault(key, {})
    assoc = _association(destination, calling_ae, timeout, {c for _, c, _ in headers})
    try:
        if not assoc.is_established:
            report.echo_message = (f"cannot open an association with {destination} "
                                   "(refused, rejected or no answer within "
                                   f"{timeout:g} s)")
            tell(report.echo_message)
            return report
        status = assoc.send_c_echo()
        report.echo_ok = status is not None and int(status.get("Status", -1)) == 0
        report.echo_message = ("verification echo: OK" if report.echo_ok else
                               "verification echo failed: " + _status_words(status)[1])
        tell(f"{destination}: {report.echo_message}")
        if not report.echo_ok:
            return report
        for path, _, uid in headers:
            if cancel is not None and cancel.is_set():
                tell("stopped; the objects not sent yet go with the next send")
                break
            if uid in done:
                report.objects.append(Sent(path, uid, "already sent",
                                           f"already sent {done[uid].get('sent_at', '')}"))
                tell(f"{path.name}: already sent to {destination} ({uid})")
                continue
            outcome = "failed"
            words = ""
            for attempt in range(1 + max(0, retries)):
                if not assoc.is_established:
                    assoc = _association(destination, calling_ae, timeout,
                                         {c for _, c, _ in headers})
                    if not assoc.is_established:
                        words = f"cannot reconnect to {destination}"
                        continue
                try:
                    ds = pydicom.dcmread(path)
                    stored, words = _status_words(assoc.send_c_store(ds))
                except (OSError, ValueError, RuntimeError) as exc:
                    stored, words = False, f"{type(exc).__name__}: {exc}"
                if stored:
                    outcome = "sent"
                    break
                if attempt < retries:
                    tell(f"{path.name}: {words}; retrying ({attempt + 1} of {retries})")
            if outcome == "sent":
                # The same UID is never sent again to this destination.
                done[uid] = {"file": path.name, "sent_at": utc_now_iso()}
                _write_ledger(out_dir, ledger)
            report.objects.append(Sent(path, uid, outcome, words))
            tell(f"{path.name}: {words} ({uid})")
    finally:
        if assoc.is_established:
            assoc.release()
    return report
