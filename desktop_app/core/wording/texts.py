"""The words DermScreen says about itself, in one place.

The intended use and the disclaimer are printed by the PDF reports, the About
dialog and the model card; the CSV column descriptions by ``dermscreen analyse
--help``, the CSV module's documentation and the model card. Plain text (no
HTML or Markdown), so every reader can escape or emphasise it as it needs.
"""

from __future__ import annotations

INTENDED_USE = (
    "DermScreen is a triage aid for dermoscopic images of skin lesions. It flags images for "
    "a closer look (those unlike the benign lesions its autoencoder learned, and, with the "
    "combined model, those its classifier finds like labelled cancers) and shows where. It "
    "is not a diagnosis and not a medical device: an image that is not flagged "
    "may still be melanoma or any other disease, and every decision about a patient rests with a "
    "qualified clinician."
)

# The short form, for a heading or a line at the end of a printout.
DISCLAIMER_SHORT = "DermScreen is a triage aid, not a diagnosis."

DISCLAIMER = (
    f"{DISCLAIMER_SHORT} It flags images for a closer look; an image that is not flagged may "
    "still be malignant, and a flagged image is not a finding of cancer. Every decision about a patient rests with a clinician."
)

# One line per CSV column, in the order of desktop_app.core.inference.results.CSV_COLUMNS
# (a test keeps the two in step).
CSV_COLUMN_DOCS: dict[str, str] = {
    "index": "position of the file in the input list (0-based)",
    "path": "the file relative to the opened folder (a file given alone: its name); the full "
    "path only when asked for (--full-paths)",
    "file_name": "the file's base name",
    "status": "ok or error",
    "error_code": "empty, or a reason code (empty_file, truncated, not_an_image, "
    "unsupported_format, too_large, unreadable, too_small, extreme_aspect, blank_image, "
    "preprocess_failed, inference_failed)",
    "error": "empty, or the reason in words",
    "score": "the model's score that decides (the CAE's reconstruction error; for a combined "
    "model the calibrated combination of both parts); empty on error",
    "threshold": "threshold the decision used",
    "triage": "flagged (score above the threshold), borderline (not flagged, but within the "
    "band just below the threshold: at the model's default point, above the point that "
    "flags 95% of validation cancers), not flagged, or error",
    "reviewed": "yes or no: marked reviewed by the clinician in the app; empty when not "
    "recorded (command line)",
    "review_note": "the clinician's note on the case, if any",
    "reviewed_by": "who marked the case reviewed (the clinician named in the app then)",
    "reviewed_at": "UTC time the case was marked reviewed (ISO 8601)",
    "z": "(score - benign mean) / benign sd",
    "percentile": "percent of benign validation scores at or below the score",
    "anomaly_score": "combined models only: the benign-only CAE's reconstruction error",
    "classifier_probability": "combined models only: the labelled classifier's probability "
    "of malignancy (learned from labelled cancers)",
    "image_sha256": "SHA-256 of the bytes that were decoded (empty when unreadable)",
    "model_name": "model name",
    "model_version": "model version",
    "model_sha256": "SHA-256 of the ONNX model file",
    "model_verified": "yes if the model's .sha256 file matched it, no = unverified model",
    "provider": "ONNX Runtime execution provider (CPU or CUDA)",
    "seconds": "wall time spent on this image",
    "analysed_at": "UTC time of the result (ISO 8601)",
    "case_id": "case or patient ID given for the batch (or the file's subfolder, when that "
    "names the case); empty when none was given",
    "clinician": "reviewing clinician named for the batch; empty when none was given",
    "app_version": "DermScreen version that wrote the report",
    "dicom_study_uid": "DICOM input: its Study Instance UID (empty for other images)",
    "dicom_sop_uid": "DICOM input: its SOP Instance UID (a frame of a multi-frame object is "
    "named FILE#frameN in path)",
    "study_date": "DICOM input: the study date (YYYYMMDD)",
    "body_site": "DICOM input: the body site of its anatomic region sequence",
    "lesion_id": "DICOM input: its lesion number, where the object carries one",
    "patient_id": "DICOM input: the Patient ID, only with --show-patient (or the app's "
    "View > Show Patient Identity); empty otherwise",
    "patient_name": "DICOM input: the patient's name, only with --show-patient",
    "patient_birth_date": "DICOM input: the patient's birth date, only with --show-patient",
    "input_check": "empty, or which statistics of the image the model sees (colour, sharpness, "
    "dark border, measured after preprocessing) lie outside the range of the model's "
    "validation images",
    "site_profile": "the site profile the threshold was calibrated on (name, n, date); empty: "
    "the model's own validation point",
    "batch_drift": "in range, out of range (the batch's scores or images are unlike those the "
    "threshold was set on: calibrate to this site) or not checked (fewer than 20 images)",
}

DRIFT_ADVICE = (
    "Calibrate to this site from its own benign images (Model > Calibrate to This Site, or "
    "dermscreen calibrate)."
)


def _drift_reference_words(reference: str) -> str:
    """What the point was set on: "validation" or "site profile NAME", in words."""
    if reference.startswith("site profile "):
        return f"the benign images of {reference}"
    return "the model's own benign validation images"


def drift_score_words(direction: str, reference: str, *, most: bool = False) -> str:
    """The score half of the drift alarm, for a clinician (no statistics: see drift_details).
    ``most``: so many of the batch's images are flagged that most of its benign lesions are."""
    where = _drift_reference_words(reference)
    if direction == "high":
        share = "most benign lesions will be flagged" if most else \
            "many more benign lesions will be flagged than this point promises"
        return f"These images score higher than the ones this point was set on ({where}): {share}."
    return (f"These images score lower than the ones this point was set on ({where}): fewer "
            "cancers may be flagged than this point promises.")


def drift_image_words(what: list[str]) -> str:
    """The image half of the drift alarm, for a clinician (``what``: statistic words)."""
    which = f" ({', '.join(what[:3])})" if what else ""
    return (f"Many of these images look unlike the model's training images{which}, so its "
            "scores may not mean what they do there.")


def drift_details(reference: str, n_scored: int, rank: float | None,
                  rank_ci: tuple[float, float] | None, threshold_rank: float | None,
                  flagged_share: float | None, n_out: int, n_checked: int, *, min_images: int, notes: list[str]) -> str:
    """The statistics behind a drift check, for the banner's tooltip and the CLI's details."""
    lines = []
    if rank is not None and rank_ci is not None:
        lines.append(
            f"Scores: the lower quartile of this batch's {n_scored} scores lies at the "
            f"{_ordinal(rank)} percentile of the {reference} benign scores (95% bootstrap "
            f"interval {_ordinal(rank_ci[0])} to {_ordinal(rank_ci[1])}; about the 25th "
            "expected for benign images like those, up to the 50th for a batch of half cancers).")
        if threshold_rank is not None and flagged_share is not None:
            lines.append(f"The threshold in use flags {100 * (1 - threshold_rank):.0f}% of those "
                         f"benign images and {100 * flagged_share:.0f}% of this batch.")
    if n_checked:
        lines.append(f"Images: {n_out} of {n_checked} have a colour, sharpness or dark border "
                     "outside the range of the model's validation images (measured on the "
                     "model's input, after preprocessing).")
    if max(n_scored, n_checked) < min_images:
        lines.append(f"Not judged: fewer than {min_images} images.")
    lines += [n[0].upper() + n[1:] + "." for n in notes if "fewer than" not in n]
    return " ".join(lines)


def _ordinal(share: float) -> str:
    """0.52 -> '52nd', 0.11 -> '11th' (a percentile in words)."""
    n = round(100 * share)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def unverified_model_note(model_file_name: str) -> str:
    """What the window and the CLI say about a model no .sha256 file vouches for."""
    return (f"Unverified model: no {model_file_name}.sha256 file vouches for this model, so it "
            "may not be the file that was validated. Results are marked \"unverified model\" "
            "(CSV column model_verified = no, and in the PDFs).")

# A combined model's parts (issue 27), as the case viewer, CSV and PDF name them.
ANOMALY_PART = "CAE anomaly score (benign-only)"
CLASSIFIER_PART = "classifier P(malignant) (learned from labelled cancers)"
ANOMALY_SHORT = "CAE anomaly"  # where a row has room for a word or two (score panel)
CLASSIFIER_SHORT = "Classifier P"
EVIDENCE_TITLE = "Classifier evidence"
EVIDENCE_LEGEND = "evidence for malignant, this case"
CAE_MAP_TITLE = "Autoencoder error (CAE)"
CAE_MAP_TOOLTIP = (
    "Where the benign-only autoencoder could not rebuild the image: bright = unlike the benign "
    "lesions it learned. Drawn inside the dermoscope's field of view only (the black frame and "
    "an oval or round scope's vignette ring are left out). Skin texture and hair can light it "
    "too: it says where to look, not what is there.")
EVIDENCE_TOOLTIP = (
    "Where the labelled classifier (trained on labelled cancers) found evidence towards "
    "malignant: its class activation map, positive part only, on this case's own scale "
    "(full colour = {vmax:.3g} logit units per pixel). The error heatmap beside it is the "
    "benign-only autoencoder's.")
