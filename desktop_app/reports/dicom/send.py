"""Send a run's DICOM objects to a PACS: a verification echo, then C-STORE each one (pynetdicom).

``dermscreen send OUT --to AE@host:port`` and the window's File > Send to PACS
use :func:`send_folder`. What it sends, and what makes a resend safe:

- only a folder DermScreen wrote: ``OUT/dicom/manifest.json`` lists the objects of the
  run (read, with the ledger, by :mod:`desktop_app.reports.dicom.ledger`); a folder without one (an input folder, say) is refused and nothing is written
  there; an object without a Patient ID is never sent;
- every object is read from its file, so a resend carries the same SOP Instance UID
  and a PACS stores it once (it keys instances by that UID);
- ``OUT/dicom/sent.json`` (:data:`LEDGER_NAME`) records, per destination, each SOP
  Instance UID the PACS confirmed; a later send skips those ("already sent"). A damaged
  ledger is kept as ``sent.json.damaged`` and a new one started; a ledger that is not a
  regular file (a FIFO...) is refused before anything is sent; a folder that became
  read-only only stops the recording (the objects still go, and the report says so).

Refusals are not retried: a host that does not resolve, a refused connection, an
association the PACS rejects or aborts at once (its reason in words), no accepted
presentation context, a failure status. Only timeouts are retried (``retries``
times, on a fresh association). Every network call has a timeout. Messages name the
file and its SOP Instance UID, never the patient, and carry no raw Python exception.
"""

from __future__ import annotations

import errno
import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from desktop_app.core.base.files import FileWriteError, utc_now_iso
from desktop_app.reports.dicom.ledger import (
    LEDGER_NAME,
    LedgerError,
    dicom_folder,
    load_ledger,
    os_words,
    read_manifest,
    write_ledger,
)

DEFAULT_CALLING_AE = "DERMSCREEN"
DEFAULT_TIMEOUT_S = 30.0
DEFAULT_RETRIES = 2
VERIFICATION = "1.2.840.10008.1.1"
MAX_OBJECT_BYTES = 512 * 2**20
_DEST = re.compile(r"^(?P<ae>[^@]{1,16})@(?P<host>\[[0-9A-Fa-f:.]+\]|[^:@\[\]]+):(?P<port>\d{1,5})$")
# What went wrong for the whole send (SendReport.problem), for the CLI's exit code.
PROBLEM_FOLDER = "folder"  # not a folder DermScreen wrote
PROBLEM_LEDGER = "ledger"  # sent.json cannot be read or written
PROBLEM_PACS = "pacs"  # the PACS could not be reached or refused us


def ae_title_problem(ae: str, what: str = "AE title") -> str:
    """Why ``ae`` is not a usable AE title ("" when it is): 1 to 16 printable ASCII
    characters, no backslash, not only spaces (PS3.5 AE value representation)."""
    if not ae.strip():
        return f"{what} is empty: give 1 to 16 printable ASCII characters"
    if len(ae) > 16:
        return f"{what} {ae!r} is {len(ae)} characters long: at most 16 are allowed"
    if any(not (ch.isprintable() and ch.isascii()) or ch == "\\" for ch in ae):
        return f"{what} {ae!r} holds a backslash or a non-ASCII or control character"
    return ""


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
        problem = ae_title_problem(ae, "the PACS's AE title")
        if problem:
            raise DestinationError(problem)
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
    problem: str = ""  # PROBLEM_FOLDER / PROBLEM_LEDGER / PROBLEM_PACS, or ""
    ledger_message: str = ""  # why sent.json was not (fully) kept, or ""
    notes: list[str] = field(default_factory=list)

    @property
    def failed(self) -> list[Sent]:
        return [o for o in self.objects if o.status == "failed"]

    @property
    def ok(self) -> bool:
        return self.echo_ok and not self.failed and not self.problem


class _RefusedError(Exception):
    """The PACS cannot be used now; ``transient`` only for a timeout (worth a retry)."""

    def __init__(self, words: str, *, transient: bool = False) -> None:
        super().__init__(words)
        self.words = words
        self.transient = transient


def _status_words(status: Any) -> tuple[bool, str]:
    """(stored, words) of a C-STORE response status dataset (None/empty: no response)."""
    if status is None or "Status" not in status:
        return False, "no response"
    code = int(status.Status)
    if code == 0x0000:
        return True, "stored"
    if code in (0xB000, 0xB006, 0xB007):
        return True, f"stored with warning 0x{code:04X}"
    comment = str(status.get("ErrorComment", "")).strip()
    return False, f"refused with status 0x{code:04X}{': ' + comment if comment else ''}"


def _sop_class_name(uid: str) -> str:
    from pydicom.uid import UID

    name = UID(uid).name
    return name if name and name != uid else f"SOP class {uid}"


def _reach(dest: Destination, timeout: float) -> None:
    """Resolve the host and open (then close) a TCP connection: a name that does not
    resolve or a refused connection fails at once, in words; only a timeout is transient."""
    try:
        infos = socket.getaddrinfo(dest.host, dest.port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise _RefusedError(f"the PACS host {dest.host!r} does not resolve "
                       f"({exc.strerror or 'unknown name'}): check the address") from None
    except (OSError, UnicodeError):
        raise _RefusedError(f"the PACS host {dest.host!r} is not a usable host name") from None
    last = ""
    for family, kind, proto, _, address in infos:
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(timeout)
                sock.connect(address)
            return
        except TimeoutError:
            raise _RefusedError(f"no answer from {dest.host}:{dest.port} within {timeout:g} s",
                           transient=True) from None
        except ConnectionRefusedError:
            last = "connection refused: nothing accepts DICOM connections on that port"
        except OSError as exc:
            last = exc.strerror or errno.errorcode.get(exc.errno or 0, "network error")
    raise _RefusedError(f"cannot connect to {dest.host}:{dest.port} ({last})")


def _associate(dest: Destination, calling_ae: str, timeout: float,
               sop_classes: set[str]) -> Any:
    """An established association, or :class:`_RefusedError` saying why not in words."""
    from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian
    from pynetdicom import AE
    from pynetdicom.presentation import build_context

    _reach(dest, timeout)
    ae = AE(ae_title=calling_ae)
    ae.connection_timeout = timeout
    ae.acse_timeout = timeout
    ae.dimse_timeout = timeout
    ae.network_timeout = timeout
    contexts = [build_context(VERIFICATION)]
    contexts += [build_context(uid, [ExplicitVRLittleEndian, ImplicitVRLittleEndian])
                 for uid in sorted(sop_classes)]
    started = time.monotonic()
    try:
        # At most 128 presentation contexts per association (PS3.8); a run writes three classes.
        assoc = ae.associate(dest.host, dest.port, contexts=contexts[:128],
                             ae_title=dest.ae_title)
    except (OSError, RuntimeError, ValueError):
        raise _RefusedError(f"the association with {dest} could not be set up") from None
    if assoc.is_established:
        return assoc
    quick = time.monotonic() - started < 0.8 * timeout
    if assoc.is_rejected:
        rsp = assoc.acceptor.primitive
        reason = ", ".join(str(x) for x in (getattr(rsp, "result_str", ""),
                                            getattr(rsp, "source_str", ""),
                                            getattr(rsp, "reason_str", "")) if x)
        raise _RefusedError(f"{dest} rejected the association ({reason or 'no reason given'}): "
                       f"check that the PACS knows our AE title {calling_ae!r} at this "
                       f"host and that its own AE title is {dest.ae_title!r}")
    if assoc.is_aborted and quick:
        if assoc.rejected_contexts and not assoc.accepted_contexts:
            raise _RefusedError(f"{dest} accepted none of the object kinds we send: it must be set "
                           "up to store them")
        raise _RefusedError(f"{dest} aborted the association at once (Peer aborted Association): "
                       f"a PACS does this when it does not accept our AE title {calling_ae!r} "
                       f"(or is not {dest.ae_title!r}); register {calling_ae!r} with this "
                       "host at the PACS")
    raise _RefusedError(f"no answer to the association request from {dest} within {timeout:g} s",
                   transient=True)


def _connect(dest: Destination, calling_ae: str, timeout: float, sop_classes: set[str],
             retries: int, tell: Callable[[str], None]) -> Any:
    """:func:`_associate`, retried (``retries`` times) only after a timeout."""
    for attempt in range(1 + max(0, retries)):
        try:
            return _associate(dest, calling_ae, timeout, sop_classes)
        except _RefusedError as exc:
            if not exc.transient or attempt >= retries:
                raise
            tell(f"{exc.words}; retrying ({attempt + 1} of {retries})")
    raise AssertionError("unreachable")  # pragma: no cover


def _read_object(path: Path) -> Any:
    """The object at ``path`` (a regular file only), or ValueError in words."""
    import io

    import pydicom

    from desktop_app.core.imaging.regular_file import open_regular

    try:
        fd, st = open_regular(path)
        with open(fd, "rb") as fh:
            if st.st_size > MAX_OBJECT_BYTES:
                msg = f"over {MAX_OBJECT_BYTES // 2**20} MB"
                raise ValueError(msg)
            data = fh.read(MAX_OBJECT_BYTES + 1)
    except OSError as exc:
        raise ValueError(f"cannot read ({os_words(exc)})") from None
    try:
        return pydicom.dcmread(io.BytesIO(data))
    except Exception:  # pydicom raises many kinds on damaged input
        raise ValueError("cannot read (damaged or truncated DICOM file)") from None


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
    """Echo ``destination``, then C-STORE every object of ``out_dir``'s manifest it has not
    confirmed yet. Never raises for what a folder, a file or a PACS does: the report says."""
    report = SendReport(destination)

    def tell(text: str) -> None:
        if say is not None:
            say(text)

    problem = ae_title_problem(calling_ae, "our (calling) AE title")
    if problem:
        report.problem, report.echo_message = PROBLEM_FOLDER, problem
        return report
    try:
        manifest = read_manifest(out_dir)
    except ValueError as exc:
        report.problem, report.echo_message = PROBLEM_FOLDER, str(exc)
        return report
    folder = dicom_folder(out_dir)
    if not manifest:
        report.echo_message = f"no DICOM objects in {folder} (the run wrote none)"
        return report
    try:
        ledger, note = load_ledger(folder)
    except LedgerError as exc:
        report.problem = PROBLEM_LEDGER
        report.echo_message = report.ledger_message = exc.words
        return report
    if note:
        report.notes.append(note)
        tell(note)
    done = ledger.setdefault(str(destination), {})
    sop_classes = {o["sop_class_uid"] for o in manifest if o["sop_class_uid"]}
    try:
        assoc = _connect(destination, calling_ae, timeout, sop_classes, retries, tell)
    except _RefusedError as exc:
        report.problem, report.echo_message = PROBLEM_PACS, exc.words
        tell(exc.words)
        return report
    try:
        status = assoc.send_c_echo()
        report.echo_ok = bool(status) and int(status.get("Status", -1)) == 0
        report.echo_message = ("verification echo: OK" if report.echo_ok else
                               "verification echo failed: " + _status_words(status)[1])
        tell(f"{destination}: {report.echo_message}")
        if not report.echo_ok:
            report.problem = PROBLEM_PACS
            return report
        for item in manifest:
            if cancel is not None and cancel.is_set():
                tell("stopped; the objects not sent yet go with the next send")
                break
            path, uid = folder / item["file"], item["sop_instance_uid"]
            if uid in done:
                report.objects.append(Sent(path, uid, "already sent",
                                           f"already sent {done[uid].get('sent_at', '')}"))
                tell(f"{path.name}: already sent to {destination} ({uid})")
                continue
            try:
                stored, words, assoc = _store(path, uid, assoc, destination, calling_ae,
                                              timeout, sop_classes, retries, tell)
            except _RefusedError as exc:  # the PACS went away for good: the rest waits
                report.problem = PROBLEM_PACS
                report.objects.append(Sent(path, uid, "failed", exc.words))
                tell(f"{path.name}: {exc.words} ({uid})")
                for rest in manifest[manifest.index(item) + 1:]:
                    report.objects.append(Sent(folder / rest["file"], rest["sop_instance_uid"],
                                               "failed", "not sent: " + exc.words))
                break
            if stored:
                # The same UID is never sent again to this destination.
                done[uid] = {"file": path.name, "sent_at": utc_now_iso()}
                _record(report, folder, ledger)
            report.objects.append(Sent(path, uid, "sent" if stored else "failed", words))
            tell(f"{path.name}: {words} ({uid})")
    finally:
        if assoc is not None and assoc.is_established:
            assoc.release()
    return report


def _record(report: SendReport, folder: Path, ledger: dict[str, dict[str, Any]]) -> None:
    """Write the ledger; a folder that cannot take it any more stops the recording, not
    the sending (a resend is harmless: the PACS keeps one copy per UID)."""
    if report.ledger_message:
        return
    try:
        write_ledger(folder, ledger)
    except FileWriteError as exc:
        report.problem = report.problem or PROBLEM_LEDGER
        report.ledger_message = (f"cannot record what was sent in {folder / LEDGER_NAME} "
                                 f"({exc}); the objects went on, and the next send sends "
                                 "again what this one stored (the PACS keeps one copy)")


def _store(path: Path, uid: str, assoc: Any, dest: Destination, calling_ae: str,
           timeout: float, sop_classes: set[str], retries: int,
           tell: Callable[[str], None]) -> tuple[bool, str, Any]:
    """(stored, words, the association to go on with) for one object. Retries only after a
    timeout; raises :class:`_RefusedError` when no association can be had any more."""
    try:
        ds = _read_object(path)
    except ValueError as exc:
        return False, str(exc), assoc
    if str(ds.get("SOPInstanceUID", "")) != uid:
        return False, "not sent: its SOP Instance UID is not the one the manifest lists", assoc
    if not str(ds.get("PatientID", "")).strip():
        return False, ("not sent: it has no Patient ID (a PACS would file it under an empty "
                       "patient); analyse again with the patient given"), assoc
    words = "no response"
    for attempt in range(1 + max(0, retries)):
        if assoc is None or not assoc.is_established:
            assoc = _connect(dest, calling_ae, timeout, sop_classes, 0, tell)
        started = time.monotonic()
        try:
            stored, words = _status_words(assoc.send_c_store(ds))
        except ValueError:  # pynetdicom: no accepted presentation context for the class
            return False, (f"{dest} accepted no presentation context for "
                           f"{_sop_class_name(str(ds.SOPClassUID))}: it must be set up to "
                           "store this kind of object"), assoc
        except (OSError, RuntimeError, AttributeError):
            stored, words = False, "no response"
        if stored or words.startswith("refused"):
            return stored, words, assoc
        # No answer: this association cannot be trusted any more; the next try opens one.
        _drop(assoc)
        assoc = None
        if time.monotonic() - started < 0.8 * timeout:  # ended by the PACS, not timed out
            return False, (f"{dest} ended the association while receiving the object "
                           "without answering (Peer aborted Association)"), assoc
        words = f"no response within {timeout:g} s"
        if attempt < retries:
            tell(f"{path.name}: {words}; retrying ({attempt + 1} of {retries})")
    return False, words, assoc


def _drop(assoc: Any) -> None:
    """Abort an association we no longer trust (no answer came)."""
    try:
        if assoc.is_established:
            assoc.abort()
    except (OSError, RuntimeError):  # already gone
        pass
