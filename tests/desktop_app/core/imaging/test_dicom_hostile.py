"""Hostile DICOM inputs (issue 33 and issue 31 item 6), built for real from shared images.

Decompression bombs are real codestreams (pydicom's own JPEG 2000 and JPEG-LS encoders)
whose SIZ / SOF55 marker declares a huge size: refused from that marker, before any decoder
allocates, measured in a child process by its peak memory. Every other object gets its
true reason in words.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from desktop_app.core.base import errors
from desktop_app.core.imaging import dicom_read
from desktop_app.core.imaging.imageio import DEFAULT_MAX_PIXELS, read_image, scan_inputs
from tests.support import dicom_inputs as di

REPO = Path(__file__).resolve().parents[4]


@pytest.fixture
def jpeg(isic9_test_files: list[Path]) -> Path:
    return isic9_test_files[0]


_PEAK = """
import json, resource, sys
from desktop_app.core.base.errors import ImageError
from desktop_app.core.imaging.imageio import read_image
import pydicom.pixels, PIL.Image  # imported before the baseline: only decoding counts
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_image(sys.argv[1])
    outcome = "decoded"
except ImageError as exc:
    outcome = f"{exc.reason_code}: {exc.reason}"
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "rise_mb": (after - before) / 1024}))
"""


@pytest.mark.parametrize(("codec", "width", "height", "rows"), [
    ("JPEG 2000", 12000, 12000, 64),
    ("JPEG 2000", 30000, 30000, 64),
    ("JPEG-LS", 14000, 14000, 64),
])
def test_codestream_bombs_are_refused_before_decoding(tmp_path: Path, codec: str, width: int,
                                                      height: int, rows: int) -> None:
    path = di.codestream_bomb(tmp_path / "bomb.dcm", codec, width, height, rows=rows)
    assert path.stat().st_size < 20_000
    done = subprocess.run([sys.executable, "-c", _PEAK, str(path)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=REPO)
    result = json.loads(done.stdout)
    assert result["outcome"].startswith("too_large: ")
    assert f"{codec} pixel data declares {width}x{height}" in result["outcome"]
    assert "refused before decoding" in result["outcome"]
    # Before: 600 MB to 4.2 GB. A decoder would need width x height x 3 bytes; nothing near it.
    assert result["rise_mb"] < 50, result


def test_a_codestream_under_the_cap_but_not_the_headers_size_is_refused(tmp_path: Path) -> None:
    path = di.codestream_bomb(tmp_path / "bomb.dcm", "JPEG 2000", 9000, 9000)  # 81 MP < 100
    with pytest.raises(errors.NotAnImageError, match="declares 9000x9000 pixels but the header "
                       "says 64x64"):
        read_image(path)


def test_pillows_guard_stays_on_at_the_apps_cap(tmp_path: Path) -> None:
    """The app no longer switches Pillow's bomb guard off: a JPEG 2000 codestream declaring
    30000x30000 is refused by Pillow itself when opened (pydicom's fallback decoder)."""
    assert Image.MAX_IMAGE_PIXELS == DEFAULT_MAX_PIXELS
    path = di.codestream_bomb(tmp_path / "bomb.dcm", "JPEG 2000", 30000, 30000)
    import pydicom

    frame = next(pydicom.encaps.generate_frames(pydicom.dcmread(path).PixelData,
                                                number_of_frames=1))
    import io

    with pytest.raises(Image.DecompressionBombError):
        Image.open(io.BytesIO(frame))


def test_frames_are_bounded_by_the_data_present(tmp_path: Path, jpeg: Path) -> None:
    path = di.declared_frames(jpeg, tmp_path / "liar.dcm", 100_000)
    started = time.monotonic()
    rows = [p for p, _ in scan_inputs([tmp_path])]
    assert [p.name for p in rows] == ["liar.dcm#frame1", "liar.dcm#frame2"]
    assert read_image(rows[0]).shape == (*di.rgb_of(jpeg).shape[:2], 3)  # the frame it holds
    with pytest.raises(errors.TruncatedImageError) as info:
        read_image(rows[1])
    assert info.value.reason == ("DICOM object declares 100,000 frames but its pixel data holds "
                                 "1; frames 2 to 100,000 are missing (not analysed)")
    assert time.monotonic() - started < 60  # a guard against a hang, not a timing
    assert path.exists()


@pytest.mark.parametrize(("build", "error", "words"), [
    (di.relabelled, errors.NotAnImageError,
     "holds a JPEG codestream, but the transfer syntax says Explicit VR Little Endian"),
    (lambda j, o: di.relabelled(j, o, "1.2.840.10008.1.2"), errors.NotAnImageError,
     "holds a JPEG codestream, but the transfer syntax says Implicit VR Little Endian"),
    (di.truncated_jpeg, errors.TruncatedImageError,
     "it ends inside its pixel data (before the end-of-data delimiter)"),
    (lambda j, o: di.truncated_jpeg(j, o, keep=0.0), errors.TruncatedImageError,
     "has no pixel data and no image size: the file ends at byte 600"),
    (di.unknown_transfer_syntax, errors.UnsupportedFormatError,
     "unknown DICOM transfer syntax '1.2.826.0.1.3680043.2.1143.99'"),
    (di.huge_element, errors.TruncatedImageError,
     "element (0008,0070) declares 2,147,483,632 bytes but only"),
])
def test_misleading_errors_now_say_the_true_reason(tmp_path: Path, jpeg: Path, build,
                                                   error: type, words: str) -> None:
    path = build(jpeg, tmp_path / "bad.dcm")
    with pytest.raises(error) as info:
        read_image(path)
    assert words in info.value.reason, info.value.reason
    assert "has no pixel data" not in info.value.reason or "no image size" in info.value.reason
    assert "ValueError" not in info.value.reason


def test_a_dicomdir_is_named(tmp_path: Path, jpeg: Path) -> None:
    path = di.dicomdir(jpeg, tmp_path / "disc")
    with pytest.raises(errors.UnsupportedFormatError, match="a DICOMDIR"):
        read_image(path)


@pytest.mark.parametrize(("name", "meta_group"), [("photo.jpg", False), ("photo.dcm", False),
                                                  ("photo.jpg", True)])
def test_a_valid_jpeg_with_dicm_at_byte_128_is_read_as_the_jpeg(tmp_path: Path, jpeg: Path,
                                                                name: str, meta_group: bool
                                                                ) -> None:
    path = di.jpeg_with_dicm(jpeg, tmp_path / name, meta_group=meta_group)
    assert path.read_bytes()[128:132] == b"DICM"
    assert dicom_read.sniff_dicom(path) is meta_group
    assert (read_image(path) == read_image(jpeg)).all()


def test_no_pydicom_warning_reaches_stderr(tmp_path: Path, jpeg: Path) -> None:
    """Odd values pydicom warns about on access, a file cut inside its pixel data, a relabelled
    one and a JPEG with DICM at byte 128: read in a child process (pytest resets warning
    filters per test), whose stderr must hold none of pydicom's warnings."""
    paths = [di.odd_values(jpeg, tmp_path / "odd.dcm"),
             di.truncated_jpeg(jpeg, tmp_path / "cut.dcm"),
             di.relabelled(jpeg, tmp_path / "relabelled.dcm", "1.2.840.10008.1.2"),
             di.jpeg_with_dicm(jpeg, tmp_path / "dicm.jpg", meta_group=True)]
    code = ("import sys\n"
            "from desktop_app.core.base.errors import ImageError\n"
            "from desktop_app.core.imaging.imageio import read_file, decode_image\n"
            "from desktop_app.core.imaging.dicom_read import read_case\n"
            "for name in sys.argv[1:]:\n"
            "    b = read_file(name); c = read_case(b)\n"
            "    if c: print(c.study_date, c.series_instance_uid)\n"
            "    try: print(decode_image(b).shape)\n"
            "    except ImageError as e: print(e.reason_code)\n")
    done = subprocess.run([sys.executable, "-W", "default", "-c", code, *map(str, paths)],
                          capture_output=True, text=True, timeout=120, check=True, cwd=REPO)
    assert done.stdout.count("(180, 180, 3)") == 2, done.stdout
    assert "truncated" in done.stdout and "not_an_image" in done.stdout
    assert "Warning" not in done.stderr and "site-packages" not in done.stderr, done.stderr


def test_a_bomb_in_a_later_frame_is_refused_too(tmp_path: Path) -> None:
    """A two-frame JPEG 2000 object whose second frame's SIZ declares 30000x30000."""
    import struct

    import numpy as np
    import pydicom
    from pydicom.encaps import encapsulate, generate_frames
    from pydicom.uid import JPEG2000Lossless

    path = di.codestream_bomb(tmp_path / "one.dcm", "JPEG 2000", 64, 64)  # an honest frame
    ds = pydicom.dcmread(path)
    first = next(generate_frames(ds.PixelData, number_of_frames=1))
    pixels = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    other = pydicom.dcmread(path)
    other.PixelData = pixels.tobytes()
    other.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    other.compress(JPEG2000Lossless)
    second = bytearray(next(generate_frames(other.PixelData, number_of_frames=1)))
    at = second.find(b"\xff\x51")
    struct.pack_into(">II", second, at + 6, 30000, 30000)
    ds.NumberOfFrames = 2
    ds.PixelData = encapsulate([first, bytes(second)])
    ds.save_as(path, enforce_file_format=True)
    rows = [p for p, _ in scan_inputs([path])]
    assert [p.name for p in rows] == ["one.dcm#frame1", "one.dcm#frame2"]
    assert read_image(rows[0]).shape == (64, 64, 3)
    with pytest.raises(errors.ImageTooLargeError, match="declares 30000x30000"):
        read_image(rows[1])


def test_the_batch_goes_on_past_every_hostile_object(tmp_path: Path, jpeg: Path) -> None:
    """Every hostile object above in one folder, beside a good image, through the real CLI:
    exit 0, one row per object (two for the frame liar), each error row with its reason."""
    from desktop_app.reports.csv_report import read_results_csv

    folder = tmp_path / "in"
    folder.mkdir()
    di.codestream_bomb(folder / "bomb-j2k.dcm", "JPEG 2000", 30000, 30000)
    di.codestream_bomb(folder / "bomb-jls.dcm", "JPEG-LS", 14000, 14000)
    di.declared_frames(jpeg, folder / "liar.dcm")
    di.relabelled(jpeg, folder / "relabelled.dcm")
    di.truncated_jpeg(jpeg, folder / "cut.dcm")
    di.unknown_transfer_syntax(jpeg, folder / "unknown.dcm")
    di.huge_element(jpeg, folder / "huge.dcm")
    di.jpeg_with_dicm(jpeg, folder / "dicm.jpg")
    (folder / "good.jpg").write_bytes(jpeg.read_bytes())
    (folder / "DICOMDIR").write_bytes(di.dicomdir(jpeg, tmp_path / "disc").read_bytes())
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "desktop_app.cli", "analyse", str(folder),
                           "--out", str(out)], capture_output=True, text=True, timeout=600,
                          check=False, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr
    rows = {Path(r["path"]).name: r for r in read_results_csv(out / "results.csv")}
    assert sorted(rows) == sorted(["bomb-j2k.dcm", "bomb-jls.dcm", "liar.dcm#frame1",
                                   "liar.dcm#frame2", "relabelled.dcm", "cut.dcm",
                                   "unknown.dcm", "huge.dcm", "dicm.jpg", "good.jpg",
                                   "DICOMDIR"])
    ok = sorted(name for name, r in rows.items() if r["status"] == "ok")
    assert ok == ["dicm.jpg", "good.jpg", "liar.dcm#frame1"]
    reasons = {name: r["error"] for name, r in rows.items() if r["status"] != "ok"}
    assert "declares 30000x30000" in reasons["bomb-j2k.dcm"]
    assert "declares 14000x14000" in reasons["bomb-jls.dcm"]
    assert "frames 2 to 100,000 are missing" in reasons["liar.dcm#frame2"]
    assert "relabelled" in reasons["relabelled.dcm"]
    assert "ends inside its pixel data" in reasons["cut.dcm"]
    assert "unknown DICOM transfer syntax" in reasons["unknown.dcm"]
    assert "declares 2,147,483,632 bytes" in reasons["huge.dcm"]
    assert "DICOMDIR" in reasons["DICOMDIR"]
