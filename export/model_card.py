"""The model card: a Markdown file beside the model, generated from its metadata.

Every figure printed here comes from the metadata embedded in the model (and
so from the run's metrics.json); :func:`pct` is the one rounding rule, which
tests reuse to compare recomputed figures with the printed ones.
"""

from __future__ import annotations

from pathlib import Path

from desktop_app.core.base.files import write_text_atomic
from desktop_app.core.model.metadata import ALPHA_RULE, ModelMetadata
from export.card_parts import (
    ci_text,
    figures_table,
    neutral_data_root,
    num,
    operating_points_lines,
    pct,
    where_the_app_opens,
)

LICENCE = (
    'The training images come from the ISIC Archive (the Kaggle "Skin Cancer ISIC" nine-class '
    "set). ISIC images are licensed per image under CC-0, CC-BY or CC-BY-NC; the images that "
    "stem from HAM10000 are CC-BY-NC 4.0. The non-commercial terms of those images may bind "
    "uses of a model trained on them: check the licence of each image before any commercial use."
)

INTENDED_USE = (
    "A triage aid for clinicians who look at dermoscopic images: it ranks and flags lesions "
    "that look unlike the benign lesions it was trained on, with a heatmap of where. It is "
    "**not a diagnosis** and not a medical device; every case stays with a clinician, and a "
    "lesion that is not flagged may still be a melanoma or another malignancy."
)

HAM_EXTRA_LICENCE = (
    "This model also trained on nevi from HAM10000 (the project's `ham-extra` set: one image per "
    "lesion, split by lesion_id): Tschandl P., Rosendahl C., Kittler H., \"The HAM10000 dataset, a "
    "large collection of multi-source dermatoscopic images of common pigmented skin lesions\", "
    "Sci. Data 5, 180161 (2018), licensed CC BY-NC 4.0 (attribution, non-commercial)."
)

LIMITS = (
    "Trained on benign images only: it flags what is unusual, which includes unusual benign "
    "lesions, and it misses malignant lesions that look ordinary.",
    "Small data: {n_train} benign training images from public ISIC collections; the isic9 Test "
    "split has {n_test} images, so every figure carries a wide confidence interval (given above).",
    "The Test split of this collection holds byte-identical files under different classes; "
    "figures without those files are given beside the full-Test figures.",
    "Inputs are resized to 128x128 after digital hair removal: fine structure is lost, and "
    "images unlike dermoscopy (clinical photographs, other devices, other skin types than in "
    "ISIC) are outside what it was tested on.",
    "The model's own threshold is {threshold_rule}; the app opens at the screening point "
    "instead when the model stores one (see above). Moving the threshold trades sensitivity "
    "for specificity (see the operating points).",
)


def render_model_card(metadata: ModelMetadata, *, file_name: str = "", sha256: str = "") -> str:
    """The model card as Markdown."""
    md = metadata
    if isinstance(md.extra.get("components"), dict):
        from export.combined_card import render_combined_card

        return "\n".join(render_combined_card(md, file_name=file_name, sha256=sha256))
    stats = md.benign_stats
    ev = md.evaluation
    data = md.data
    training = md.extra.get("training", {})
    pre = md.preprocess
    w = md.loss_weights
    out: list[str] = [f"# Model card: {md.model_name} {md.model_version}", ""]
    if file_name:
        out.append(f"- File: `{file_name}`" + (f", SHA-256 `{sha256}`" if sha256 else ""))
    out += [f"- Created: {md.created} (UTC)", f"- Metadata format: {md.format_version}", ""]

    out += ["## Intended use", "", INTENDED_USE, ""]

    out += ["## Method", ""]
    known = training.get("known_anomalies")
    semi_supervised = isinstance(known, dict)
    arch = md.extra.get("architecture", {})
    filters = "/".join(str(f) for f in arch.get("encoder_filters", [])) or "?"
    kind = ("A variational autoencoder (VAE, as in Lu & Xu 2018; scored by reconstruction from "
            "the code's mean, " if arch.get("variational") else "A convolutional autoencoder (")
    out.append(
        f"{kind}{len(arch.get('encoder_filters', [])) or 'several'} "
        f"Conv 3x3 + ReLU + MaxPool blocks with {filters} filters, a "
        f"{arch.get('bottleneck_units', '?')}-unit dense bottleneck, a mirrored "
        f"transposed-convolution decoder; {arch.get('parameters', '?')} parameters) learns to "
        + ("reconstruct **benign** lesions and to reconstruct labelled malignant lesions badly "
           "(semi-supervised, below). "
           if semi_supervised else "reconstruct **benign** lesions only. ")
        + "The anomaly score of an image "
        f"is {w.get('mse', 0):g} x MSE + {w.get('ssim', 0):g} x (1 - SSIM) between the image "
        f"and its reconstruction (SSIM with a {md.ssim_window.describe()}); the heatmap is the "
        "same quantity per pixel. The score, the heatmap and the reconstruction are computed "
        "inside the ONNX graph, exactly as in training."
    )
    fov = training.get("field_of_view_rule")
    if fov:
        out.append(
            f"Score the lesion, not the artefacts: a {fov} (computed inside the graph from the "
            "input image; the SSIM term uses only windows wholly inside, and the heatmap is zero "
            "outside)."
            + (" The training loss left the vignette out the same way: the autoencoder was "
               "never asked to reconstruct it." if training.get("field_of_view_in_loss") else "")
        )
    if training.get("extra_benign"):
        out.append(
            f"Training pool: the audited isic9 benign Train images plus the HAM10000 nevi of the "
            f"committed `resources/splits/ham-extra-train.txt` ({training.get('n_train', '?')} "
            f"training / {training.get('n_val', '?')} validation images, split by lesion); "
            "epochs chosen by validation loss (best epoch kept)."
        )
    if semi_supervised:
        out.append(
            f"**Semi-supervised: this model trained on {known.get('n_train', '?')} labelled "
            f"malignant images** (a {100 * float(known.get('share', 0)):.0f}% class-stratified "
            "share of the audited isic9 Train malignant images) as known anomalies: their score "
            f"was pushed above a margin of {known.get('margin')} ({known.get('rule', '')}). It is "
            "not a benign-only anomaly detector; its validation cancers are the "
            f"{known.get('n_val', '?')} held-out Train malignant images, and any figure on sets "
            "holding the trained-on images (the suite's `validation` set) is optimistic."
        )
    out.append("")
    out.append(
        f"Preprocessing: digital hair removal ({'on' if pre.hair_removal else 'off'}; black-hat "
        f"{pre.blackhat_kernel}x{pre.blackhat_kernel} {pre.blackhat_shape}, threshold "
        f"{pre.hair_threshold}, Telea inpainting radius {pre.inpaint_radius:g}, at most "
        f"{pre.hair_work_max_side} px working size), "
        + ("Shades of Gray colour constancy (Minkowski p = 6), "
           if pre.colour_constancy == "shades_of_gray" else "")
        + f"then resizing to {pre.size}x{pre.size} "
        f"({pre.resize_interpolation}), values scaled to [0, 1]."
    )
    out.append("")
    out.append(
        f"Decision: **anomalous** when score > T = mean + alpha x sd of the scores of "
        f"{stats.n} held-out benign validation images: mean {stats.mean:.5f}, sd "
        f"{stats.sd:.5f}, alpha {stats.alpha:g}, **T = {md.threshold:.5f}**."
        if abs(md.threshold - stats.threshold()) <= 1e-12 * max(1.0, abs(md.threshold))
        else f"Decision: **anomalous** when score > **T = {md.threshold:.5f}**, chosen by "
        f"{md.threshold_rule}. On the {stats.n} held-out benign validation images (mean "
        f"{stats.mean:.5f}, sd {stats.sd:.5f}) this T is mean "
        f"{'+' if stats.alpha_for(md.threshold) >= 0 else '-'} "
        f"{abs(stats.alpha_for(md.threshold)):.2f} x sd and passes "
        f"{100 * stats.specificity_at(md.threshold):.1f}% of them as normal."
    )
    if training:
        # A fixed order: the metadata's JSON comes back with sorted keys.
        order = (
            "epochs",
            "epochs_done",
            "batch_size",
            "optimizer",
            "learning_rate",
            "seed",
            "val_fraction",
            "limit",
            "augment",
            "loss_ssim_window",
        )
        parts = [f"{k} {training[k]}" for k in order if training.get(k) is not None]
        out += ["", "Training: " + ", ".join(parts) + "."]
    out += ["", *where_the_app_opens(md), ""]

    out += ["## Data", ""]
    audit = data.get("audit", {})
    out.append(
        f"Dataset `{data.get('dataset', '')}`: {data.get('n_train', '?')} benign training and "
        f"{data.get('n_val', '?')} benign validation images (Train split, after a SHA-256 "
        f"duplicate audit: {audit.get('duplicate_groups', '?')} groups of byte-identical files, "
        f"{audit.get('cross_label_groups', '?')} of them under both a benign and a malignant "
        "class; Train copies of Test files and ambiguous files were dropped)."
    )
    if data.get("hash"):
        out.append(f"Training data hash (SHA-256): `{data['hash']}`.")
    out.append("")

    out += ["## Test figures", ""]
    test = ev.get("test")
    if isinstance(test, dict):
        out.append(
            f"Test split: {test.get('n', '?')} images ({test.get('n_malignant', '?')} malignant, "
            f"{test.get('n_benign', '?')} benign), at T = {md.threshold:.5f}. "
            f"95% confidence intervals: {ev.get('ci_method', 'bootstrap')}, "
            f"{ev.get('bootstrap_resamples', '?')} resamples. Malignant is the positive class."
        )
        out += ["", *figures_table(test, with_report=True), ""]
        clean = ev.get("test_excluding_ambiguous")
        if isinstance(clean, dict):
            out.append(
                f"Excluding the {len(clean.get('excluded', []))} Test images whose bytes also "
                f"sit under a class of the other label ({clean.get('n', '?')} images left):"
            )
            out += ["", *figures_table(clean, with_report=False), ""]
        out.append(
            "The report's figures were obtained with its own model and threshold; the two are "
            "comparable only as far as the same Test split is used. With 64 malignant and 54 "
            "benign images, differences inside the confidence intervals are not evidence that "
            "either model is better. A different threshold moves sensitivity and specificity "
            "in opposite directions: the operating points below show by how much."
        )
        per_class = test.get("per_class", {})
        if per_class:
            out += [
                "",
                "Flagged per class (Test):",
                "",
                "| Class | Label | Flagged |",
                "|---|---|---|",
            ]
            for cls, entry in per_class.items():
                out.append(
                    f"| {cls} | {entry.get('label', '')} | {entry.get('flagged', 0)}/"
                    f"{entry.get('n', 0)} ({pct(entry.get('detection_rate'))}) |"
                )
    else:
        out.append("No evaluation was recorded for this model.")
    out.append("")

    if md.operating_points:
        out += ["## Operating points", ""]
        out.append(
            "What moving the threshold means. Rows labelled \"validation sensitivity\" were "
            "chosen on validation data only (benign validation images plus the Train malignant "
            + ("images this model did not train on" if semi_supervised
               else "images, which the autoencoder never trains on")
            + "); rows labelled \"(test)\" were "
            "chosen on the Test split itself, so their Test figures are optimistic."
        )
        out += ["", *operating_points_lines(md), ""]
        added = md.extra.get("validation_points")
        if isinstance(added, dict) and added.get("added"):
            checked = added.get("checked", [])
            out.append(
                "Added after export (`" + str(added.get("command", "")) + "`): the "
                + ", ".join(f"validation sensitivity {100 * t:.0f}%" for t in added["added"])
                + (" row" if len(added["added"]) == 1 else " rows") + f", from {added.get('n_validation_malignant', '?')} validation cancers "
                f"and {added.get('n_test', '?')} Test images scored by {added.get('scored_by', '?')}"
                " and the benign validation scores stored in the model, written only after the "
                "same scores re-derived the stored "
                + ", ".join(f"{100 * c['target']:.0f}%" for c in checked)
                + " thresholds (largest relative gap "
                + f"{max((c.get('relative_gap', 0.0) for c in checked), default=0.0):.1g}; "
                f"limit {added.get('rtol', '?')}). The graph is the one that passed the export check."
            )
            out.append("")
    chosen = ev.get("validation_chosen") or []
    if chosen:
        out += [
            "### Operating points chosen on validation, with Test figures",
            "",
            "| Validation sensitivity target | Threshold | Validation sensitivity / specificity "
            "| Test sensitivity (95% CI) | Test specificity (95% CI) |",
            "|---|---|---|---|---|",
        ]
        for c in chosen:
            test = c.get("test", {})
            sens, spec = test.get("sensitivity", {}), test.get("specificity", {})
            out.append(
                f"| {pct(c.get('target_val_sensitivity'))} | {num(c.get('threshold'), 5)} | "
                f"{pct(c.get('val_sensitivity'))} / {pct(c.get('val_specificity'))} | "
                f"{pct(sens.get('value'))} ({ci_text(sens, pct)}) | "
                f"{pct(spec.get('value'))} ({ci_text(spec, pct)}) |"
            )
        out.append("")

    parity = md.extra.get("parity")
    if isinstance(parity, dict):
        diffs = parity.get("max_abs", {})
        out += ["## Export check", ""]
        out.append(
            f"Before writing, ONNX Runtime and Keras scored {parity.get('n_images', '?')} real "
            "Test images; largest differences: "
            + ", ".join(f"{k} {v:.3g}" for k, v in sorted(diffs.items()))
            + " (limits: "
            + ", ".join(f"{k} {v:.3g}" for k, v in sorted(parity.get("tolerances", {}).items()))
            + ")."
        )
        if md.extra.get("export_note"):
            out += ["", str(md.extra["export_note"])]
        out.append("")

    ablation = md.extra.get("ablation")
    if isinstance(ablation, dict) and ablation.get("rows"):
        from training.compare import to_markdown

        out += ["## How this recipe was chosen (ablation)", ""]
        out.append(
            "Each row is a full training run (or a re-scoring of one), evaluated by "
            "`dermscreen-train compare`. The recipe was chosen on the validation columns; "
            "the Test columns are reported, not used to choose."
        )
        out += ["", to_markdown(ablation).rstrip(), ""]

    suite = md.extra.get("evaluation_suite")
    if isinstance(suite, dict) and suite.get("markdown"):
        out += ["## Evaluation suite (lesion-disjoint sets, through the app's engine)", ""]
        out.append(
            "Sets: `validation` (what chooses: `supervised-validation`, images of isic9, ham-extra "
            "and isic2017 no shipped model trained on); one evaluation set per site, never used "
            "for choosing: `ham-extra-eval` (Vienna), `isic9-test`, `isic2017-eval` (mostly New "
            "York), `uda1-external` (UDA-1 lesions not in isic9); `pooled` = the four, and the "
            "worst site. Reproduce with "
            f"`{suite.get('command', 'dermscreen-train benchmark MODEL')}`."
        )
        out += ["", neutral_data_root(suite["markdown"]).rstrip(), ""]
        if suite.get("ablation_markdown"):
            out += ["### Candidates on the same suite (chosen on the validation columns)", "",
                    suite["ablation_markdown"].rstrip(), ""]

    out += ["## Limits", ""]
    n_test = test.get("n", "?") if isinstance(test, dict) else "?"
    rule = md.threshold_rule or ALPHA_RULE
    out += [
        f"- {item}".format(n_train=data.get("n_train", "?"), n_test=n_test, threshold_rule=rule)
        for item in LIMITS
    ]
    out += ["", "## Licence of the training images", "", LICENCE, ""]
    if training.get("extra_benign"):
        out += [HAM_EXTRA_LICENCE, ""]
    return "\n".join(out)


def card_path(model_path: str | Path) -> Path:
    """``MODEL.md`` beside ``MODEL.onnx`` (where the app's About box looks)."""
    return Path(model_path).with_suffix(".md")


def write_model_card(
    path: str | Path, metadata: ModelMetadata, *, file_name: str = "", sha256: str = ""
) -> Path:
    """Render and write the card atomically (temp file + os.replace)."""
    path = Path(path)
    text = render_model_card(metadata, file_name=file_name, sha256=sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)
    return path


def write_card_for_model(model_path: str | Path) -> Path:
    """(Re)write MODEL.md from the metadata embedded in MODEL.onnx (no TensorFlow needed)."""
    from desktop_app.core.imaging.imageio import file_sha256
    from desktop_app.core.model.model_file import read_metadata

    model_path = Path(model_path)
    metadata = read_metadata(model_path)
    return write_model_card(
        card_path(model_path),
        metadata,
        file_name=model_path.name,
        sha256=file_sha256(model_path),
    )


if __name__ == "__main__":
    import sys

    for arg in sys.argv[1:]:
        print(f"wrote {write_card_for_model(arg)}")
