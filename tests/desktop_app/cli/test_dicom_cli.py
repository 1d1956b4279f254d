"""DICOM end to end through the real CLI: analyse --dicom, every object through dciodvfy,
send to a real Orthanc on loopback, query it back, resend without duplicates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
import pytest

from desktop_app.cli import main
from desktop_app.core.imaging.imageio import read_file
from desktop_app.reports.csv_report import read_results_csv
from desktop_app.reports.dicom.ledger import read_ledger
from desktop_app.reports.dicom.write import dicom_files
from tests.support import dicom_inputs as di
from tests.support.dciodvfy import iod_errors
from tests.support.orthanc import OrthancServer, free_port


def run_cli(*args: str | Path) -> int:
    return main([str(a) for a in args])


@pytest.fixture
def dicom_folder(isic9_test_files: list[Path], tmp_path: Path) -> Path:
    """Dermoscopy (JPEG baseline and uncompressed), VL photographic, multi-frame, palette,
    a JPEG, and the hostile objects, named as a PACS export names them."""
    folder = tmp_path / "export"
    folder.mkdir()
    melanoma = [p for p in isic9_test_files if p.parent.name == "melanoma"]
    nevus = [p for p in isic9_test_files if p.parent.name == "nevus"]
    di.dermoscopy_jpeg(melanoma[0], folder / "IM0001")
    di.dermoscopy_native(nevus[0], folder / "IM0002.dcm", planar=1)
    di.vl_photographic(melanoma[1], folder / "IM0003.dcm")
    di.multiframe([nevus[1], melanoma[2]], folder / "IM0004.dcm")
    di.palette_colour(nevus[2], folder / "IM0005.dcm")
    shutil.copy(melanoma[3], folder / "photo.jpg")
    for name, build in (("bad-nopixels.dcm", di.no_pixel_data),
                        ("bad-huge.dcm", di.huge_rows_columns),
                        ("bad-photometric.dcm", di.wrong_photometric),
                        ("bad-truncated.dcm", di.truncated)):
        build(melanoma[0], folder / name)
    return folder


EXPECTED = {
    "IM0001": "ok", "IM0002.dcm": "ok", "IM0003.dcm": "ok", "IM0004.dcm#frame1": "ok",
    "IM0004.dcm#frame2": "ok", "IM0005.dcm": "ok", "photo.jpg": "ok",
    "bad-nopixels.dcm": "not_an_image", "bad-huge.dcm": "too_large",
    "bad-photometric.dcm": "unsupported_format", "bad-truncated.dcm": "truncated",
}


def test_analyse_dicom_folder_send_to_orthanc_and_resend(
        dicom_folder: Path, model_path: Path, tmp_path: Path, orthanc: OrthancServer,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    assert run_cli("analyse", dicom_folder, "--out", out, "--model", model_path, "--dicom",
                   "--clinician", "Dr Ada") == 0
    captured = capsys.readouterr()
    assert "11 files: 7 analysed, 4 errors" in captured.out
    # photo.jpg names no patient and none was given: no DICOM objects for it, said once.
    assert "1 analysed image(s) (photo.jpg): no patient identity" in captured.err
    rows = {r["path"]: r for r in read_results_csv(out / "results.csv")}
    assert {p: (r["status"] if r["status"] == "ok" else r["error_code"])
            for p, r in rows.items()} == EXPECTED
    assert rows["IM0001"]["dicom_study_uid"] == di.STUDY_UID
    assert rows["IM0001"]["patient_name"] == ""  # identity only with --show-patient
    # A frame row's hash is the frame's: the file's bytes plus its frame mark.
    frame2 = read_file(dicom_folder / "IM0004.dcm#frame2").sha256
    assert rows["IM0004.dcm#frame2"]["image_sha256"] == frame2

    files = dicom_files(out)
    flagged = {p.name.split("-")[1] for p in out.glob("case-*.pdf")} - {
        r["index"].zfill(5) for r in rows.values() if r["file_name"] == "photo.jpg"}
    assert len(files) == 6 + 2 * len(flagged) and flagged
    for path in files:
        iod, errors = iod_errors(path)
        assert errors == [], f"{path.name} ({iod}): {errors}"
    sent_uids = {pydicom.dcmread(p, stop_before_pixels=True).SOPInstanceUID for p in files}

    # Nothing listens on a fresh port: the echo fails, nothing is recorded, exit 1.
    assert run_cli("send", out, "--to", f"NOBODY@127.0.0.1:{free_port()}", "--timeout", "5") == 1
    assert "connection refused: nothing accepts DICOM connections" in capsys.readouterr().err
    assert read_ledger(out) == {}

    # One object damaged on disk: the others are stored, it is reported, the exit is 1.
    damaged = files[0]
    whole = damaged.read_bytes()
    damaged.write_bytes(whole[:100])
    assert run_cli("send", out, "--to", orthanc.address, "--timeout", "30") == 1
    captured = capsys.readouterr()
    assert "verification echo: OK" in captured.out
    assert f"{len(files) - 1} sent, 0 already there, 1 failed" in captured.out
    assert f"not stored: {damaged.name}: cannot read" in captured.err
    for path in files[1:]:
        assert f"{path.name}: stored" in captured.out
    assert len(orthanc.instances()) == len(files) - 1
    # Repaired, the next send stores only it.
    damaged.write_bytes(whole)
    assert run_cli("send", out, "--to", orthanc.address, "--timeout", "30") == 0
    assert f"1 sent, {len(files) - 1} already there, 0 failed" in capsys.readouterr().out
    stored = orthanc.instances()
    assert {i["MainDicomTags"]["SOPInstanceUID"] for i in stored} == sent_uids
    assert len(stored) == len(files)
    # The results sit in the source study of the DICOM inputs, under the source's patient.
    studies = {s["MainDicomTags"]["StudyInstanceUID"]: s for s in orthanc.get("/studies?expand")}
    assert di.STUDY_UID in studies
    assert studies[di.STUDY_UID]["PatientMainDicomTags"]["PatientID"] == "MRN-0042"
    # Issue 31 item 1: Orthanc holds no patient with an empty ID.
    assert all(p["MainDicomTags"].get("PatientID") for p in orthanc.get("/patients?expand"))

    # A resend skips what the PACS confirmed; even with the ledger gone, the same UIDs go
    # again and the PACS still holds each object once.
    assert run_cli("send", out, "--to", orthanc.address) == 0
    assert f"0 sent, {len(files)} already there" in capsys.readouterr().out
    (out / "dicom" / "sent.json").unlink()
    assert run_cli("send", out, "--to", orthanc.address) == 0
    assert f"{len(files)} sent, 0 already there" in capsys.readouterr().out
    again = orthanc.instances()
    assert len(again) == len(files)
    assert {i["MainDicomTags"]["SOPInstanceUID"] for i in again} == sent_uids


@pytest.mark.parametrize(("bad", "words"), [
    ("pacs.local:104", "use AE@host:port"), ("AE@host", "use AE@host:port"),
    ("AE@host:0", "port 0 is not between 1 and 65535"),
    ("ABCDEFGHIJKLMNOPQ@h:104", "use AE@host:port"),
])
def test_send_refuses_a_bad_address(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    bad: str, words: str) -> None:
    assert run_cli("send", tmp_path, "--to", bad) == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(("args", "words"), [
    (["--patient-name", "Roe^Rita"], "the patient ID is empty"),
    (["--patient-id", "P-1", "--patient-birth-date", "19801399"], "the birth date is not a date"),
    (["--patient-id", "P\\1"], "holds a backslash"),
    (["--patient-id", "P-1", "--study-uid", "1.2.abc"], "not a DICOM UID"),
    (["--patient-id", "P-1", "--accession", "A" * 17], "longer than 16 characters"),
    (["--patient-id", "P-1", "--case-id-from-subfolder"], "the batch holds several cases"),
])
def test_analyse_refuses_a_bad_patient(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       args: list[str], words: str) -> None:
    assert run_cli("analyse", tmp_path, "--out", tmp_path / "out", "--dicom", *args) == 2
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
