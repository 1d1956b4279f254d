"""``dermscreen send`` against awkward PACS servers: real pynetdicom SCPs on loopback that
refuse our calling AE, abort, accept nothing we send, hang, answer failure statuses, and
hostile output folders (not DermScreen's, a damaged or FIFO sent.json, a folder that turns
read-only after the first object was stored). Each: a clear message, the documented exit
code, nothing lost, no traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from desktop_app.cli import main
from desktop_app.reports.dicom.ledger import LEDGER_NAME, read_ledger
from desktop_app.reports.dicom.write import MANIFEST_NAME
from tests.support import dicom_inputs as di
from tests.support.orthanc import KNOWN_CALLER, OrthancServer
from tests.support.scp import running_scp

OBJECTS = 6  # two cases (a DICOM input and a JPEG with its patient given), three objects each


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory, isic9_test_files: list[Path],
            model_path: Path) -> Path:
    """One real analyse --dicom run (threshold 0: every case flagged, so SR, PDF and heatmap)."""
    root = tmp_path_factory.mktemp("send-run")
    inputs = root / "in"
    inputs.mkdir()
    melanoma = [p for p in isic9_test_files if p.parent.name == "melanoma"]
    di.dermoscopy_jpeg(melanoma[0], inputs / "IM0001.dcm")
    shutil.copy(melanoma[1], inputs / "photo.jpg")
    out = root / "out"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DERMSCREEN_HOME", str(root / "home"))
        assert run_cli("analyse", inputs, "--out", out, "--model", model_path, "--dicom",
                       "--threshold", "0", "--patient-id", "P-77",
                       "--patient-name", "Roe^Rita") == 0
    assert len(list((out / "dicom").glob("*.dcm"))) == OBJECTS
    return out


@pytest.fixture
def out(written: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(written, copy)
    return copy


def _no_traceback(text: str) -> None:
    assert "Traceback" not in text and "Error:" not in text.replace("error:", "")


def test_send_refuses_a_folder_dermscreen_did_not_write(
        out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(next((out / "dicom").glob("*-sr.dcm")), inputs / "x.dcm")
    with running_scp() as address:
        assert run_cli("send", inputs, "--to", address) == 2
        assert "not an output folder DermScreen wrote" in capsys.readouterr().err
        assert sorted(p.name for p in inputs.iterdir()) == ["x.dcm"]  # nothing written there
        manifest = out / "dicom" / MANIFEST_NAME
        manifest.write_text("[]")
        assert run_cli("send", out, "--to", address) == 2
        assert "is not DermScreen's" in capsys.readouterr().err
        manifest.unlink()
        os.mkfifo(manifest)  # never opened: a FIFO would block the reader forever
        assert run_cli("send", out, "--to", address) == 2
        assert "manifest.json is not a regular file (a named pipe)" in capsys.readouterr().err
    assert not (out / "dicom" / LEDGER_NAME).exists()


def test_a_pacs_that_rejects_our_calling_ae_fails_at_once_with_its_reason(
        out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_scp(require_calling_aet=["SOMEONEELSE"]) as address:
        started = time.monotonic()
        assert run_cli("send", out, "--to", address, "--timeout", "20") == 1
        took = time.monotonic() - started
    captured = capsys.readouterr()
    assert took < 10  # no 3 x 20 s of retries
    assert "rejected the association (Rejected Permanent, Service User, Calling AE title " \
           "not recognised)" in captured.err
    assert "'DERMSCREEN'" in captured.err and "retrying" not in captured.out
    _no_traceback(captured.out + captured.err)
    assert read_ledger(out) == {}


def test_a_pacs_that_aborts_the_association_request_fails_at_once(
        out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_scp(on_requested=lambda event: event.assoc.abort()) as address:
        started = time.monotonic()
        assert run_cli("send", out, "--to", address, "--timeout", "20") == 1
        took = time.monotonic() - started
    captured = capsys.readouterr()
    assert took < 10
    assert "aborted the association at once (Peer aborted Association)" in captured.err
    assert "register 'DERMSCREEN'" in captured.err and "retrying" not in captured.out
    _no_traceback(captured.out + captured.err)


def test_a_pacs_that_stores_none_of_our_kinds_says_so_per_object(
        out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with running_scp(sop_classes=()) as address:
        assert run_cli("send", out, "--to", address, "--timeout", "20") == 1
    captured = capsys.readouterr()
    assert "0 sent, 0 already there, 6 failed" in captured.out
    assert "accepted no presentation context for Enhanced SR Storage" in captured.err
    assert "accepted no presentation context for Encapsulated PDF Storage" in captured.err
    assert "retrying" not in captured.out
    _no_traceback(captured.out + captured.err)


def test_only_timeouts_are_retried_and_failure_statuses_are_final(
        out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[str] = []

    def slow_once(event: object) -> int:
        calls.append("store")
        if len(calls) == 1:
            time.sleep(3)  # past our 1 s timeout: the object is retried on a fresh association
        return 0x0000

    with running_scp(on_store=slow_once) as address:
        assert run_cli("send", out, "--to", address, "--timeout", "1", "--retries", "1") == 0
    captured = capsys.readouterr()
    assert "no response within 1 s; retrying (1 of 1)" in captured.out
    assert f"{OBJECTS} sent, 0 already there, 0 failed" in captured.out

    def refuse(event: object) -> object:
        from pydicom.dataset import Dataset

        calls.append("refused")
        status = Dataset()
        status.Status = 0xA700
        status.ErrorComment = "disk quota exceeded"
        return status

    (out / "dicom" / LEDGER_NAME).unlink()
    calls.clear()
    with running_scp(on_store=refuse) as address:
        assert run_cli("send", out, "--to", address, "--timeout", "5", "--retries", "2") == 1
    captured = capsys.readouterr()
    assert calls == ["refused"] * OBJECTS  # each once: a refusal is not retried
    assert "refused with status 0xA700: disk quota exceeded" in captured.err
    _no_traceback(captured.out + captured.err)


def test_a_pacs_that_aborts_while_receiving(out: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    def abort(event: object) -> int:
        event.assoc.abort()  # type: ignore[attr-defined]
        return 0x0000

    with running_scp(on_store=abort) as address:
        started = time.monotonic()
        assert run_cli("send", out, "--to", address, "--timeout", "20") == 1
        took = time.monotonic() - started
    captured = capsys.readouterr()
    assert took < 20
    assert "ended the association while receiving the object" in captured.err
    _no_traceback(captured.out + captured.err)
    assert read_ledger(out) == {}


def test_a_host_that_does_not_resolve(out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("send", out, "--to", "PACS@pacs.invalid:104", "--timeout", "5") == 1
    captured = capsys.readouterr()
    assert "the PACS host 'pacs.invalid' does not resolve" in captured.err
    _no_traceback(captured.out + captured.err)


@pytest.mark.parametrize(("calling", "words"), [
    ("A" * 17, "is 17 characters long: at most 16"), ("", "is empty"),
    ("   ", "is empty"), ("DERM\\SCREEN", "holds a backslash")])
def test_a_bad_calling_ae_is_bad_usage(out: Path, capsys: pytest.CaptureFixture[str],
                                       calling: str, words: str) -> None:
    assert run_cli("send", out, "--to", "PACS@127.0.0.1:104", "--calling-ae", calling) == 2
    captured = capsys.readouterr()
    assert "--calling-ae" in captured.err and words in captured.err
    _no_traceback(captured.out + captured.err)


@pytest.mark.parametrize("damage", [
    [1, 2, 3],
    {"HOSTILE@127.0.0.1:1": ["a", "list"]},
    {"HOSTILE@127.0.0.1:1": {"2.25.1": "a string per UID"}},
])
def test_a_damaged_ledger_is_kept_aside_and_every_object_goes(
        out: Path, capsys: pytest.CaptureFixture[str], damage: object) -> None:
    ledger = out / "dicom" / LEDGER_NAME
    ledger.write_text(json.dumps(damage))
    before = ledger.read_bytes()
    with running_scp() as address:
        assert run_cli("send", out, "--to", address) == 0
    captured = capsys.readouterr()
    assert f"{OBJECTS} sent, 0 already there, 0 failed" in captured.out
    assert "sent.json was damaged" in captured.out
    assert (out / "dicom" / "sent.json.damaged").read_bytes() == before  # nothing lost
    assert len(read_ledger(out)[address]) == OBJECTS
    _no_traceback(captured.out + captured.err)


def test_a_fifo_ledger_is_refused_without_blocking(
        out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fifo = out / "dicom" / LEDGER_NAME
    os.mkfifo(fifo)
    codes: list[int] = []
    with running_scp() as address:
        worker = threading.Thread(target=lambda: codes.append(run_cli("send", out, "--to",
                                                                       address)))
        worker.start()
        worker.join(timeout=30)
        if worker.is_alive():  # unblock it before failing
            with open(fifo, "w", encoding="utf-8") as fh:
                fh.write("{}")
            worker.join(timeout=10)
            pytest.fail("send blocked on a FIFO sent.json")
    assert codes == [4]
    captured = capsys.readouterr()
    assert "sent.json is not a regular file (a named pipe)" in captured.err
    assert "nothing was sent" in captured.err
    _no_traceback(captured.out + captured.err)


@pytest.fixture
def bind_mounted(out: Path) -> Iterator[Path]:
    """OUT/dicom bind-mounted on itself (so it can be made read-only for real), unmounted after."""
    folder = out / "dicom"
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a read-only mount needs root")
    run = subprocess.run(["mount", "--bind", str(folder), str(folder)], capture_output=True,
                         check=False, timeout=30)
    if run.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {run.stderr.decode(errors='replace').strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], check=False, timeout=30)


def test_a_folder_that_turns_read_only_after_the_first_store(
        out: Path, bind_mounted: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stored: list[str] = []

    def store_then_lock(event: object) -> int:
        if not stored:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(bind_mounted)], check=True,
                           timeout=30)
        stored.append(str(event.request.AffectedSOPInstanceUID))  # type: ignore[attr-defined]
        return 0x0000

    with running_scp(on_store=store_then_lock) as address:
        assert run_cli("send", out, "--to", address) == 4
    captured = capsys.readouterr()
    assert len(stored) == OBJECTS  # every object reached the PACS
    assert f"{OBJECTS} sent, 0 already there, 0 failed" in captured.out
    assert "cannot record what was sent" in captured.err
    assert "read-only file system" in captured.err.lower()
    _no_traceback(captured.out + captured.err)
    # The folder turned read-only while the first object was stored: nothing recorded, the
    # next send (to a writable folder) sends all again and the PACS keeps one copy of each.
    assert read_ledger(out) == {}


def test_a_real_orthanc_that_does_not_know_our_ae_title(
        out: Path, orthanc_known_callers_only: OrthancServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 31 item 5: was 212 s of retries and "no response"; now at once, in words."""
    started = time.monotonic()
    assert run_cli("send", out, "--to", orthanc_known_callers_only.address,
                   "--timeout", "20") == 1
    took = time.monotonic() - started
    captured = capsys.readouterr()
    assert took < 10, captured
    assert "'DERMSCREEN'" in captured.err and "retrying" not in captured.out
    assert "rejected the association" in captured.err or "aborted the association at once" \
        in captured.err
    _no_traceback(captured.out + captured.err)
    assert orthanc_known_callers_only.instances() == []
    # Registered under the title it knows, the same folder goes in whole.
    assert run_cli("send", out, "--to", orthanc_known_callers_only.address,
                   "--calling-ae", KNOWN_CALLER) == 0
    stored = orthanc_known_callers_only.instances()
    assert len(stored) == OBJECTS
    assert {i["MainDicomTags"]["SOPInstanceUID"] for i in stored} == {
        o["sop_instance_uid"] for o in json.loads(
            (out / "dicom" / MANIFEST_NAME).read_text())["objects"]}
    patients = {p["MainDicomTags"]["PatientID"]
                for p in orthanc_known_callers_only.get("/patients?expand")}
    assert patients == {"MRN-0042", "P-77"}  # the JPEG under the patient given for it
