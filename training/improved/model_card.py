"""Model card of the improved detector (Markdown beside the .onnx), from its metadata."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from desktop_app.core.files import write_text_atomic
from desktop_app.core.model_metadata import ModelMetadata
from export.model_card import INTENDED_USE, LICENCE, figures_table, num, pct

TARGET_AUROC = 0.80
TARGET_SENSITIVITY = 0.80


def _ablation_lines(rows: list[dict[str, Any]]) -> list[str]:
    lines = [
        "| Fusion (weights x benign z-score) | Validation AUROC (95% CI) | Test AUROC (95% CI) | "
        "Test AUROC without ambiguous (95% CI) |",
        "|---|---|---|---|",
    ]
    for r in rows:
        cells = []
        for key in ("val_auroc", "test_auroc", "test_auroc_unambiguous"):
            e = r[key]
            cells.append(f"{num(e['value'])} ({num(e['ci95'][0])}-{num(e['ci95'][1])})")
        lines.append(f"| {r['fusion']} | " + " | ".join(cells) + " |")
    return lines


def render_improved_card(
    md: ModelMetadata, result: dict[str, Any], file_name: str, sha256: str, parity: Any = None
) -> str:
    """The card: method, decision rule, Test figures vs the reference, ablation, limits."""
    test = result["test"]
    ref = result["reference_test"]
    gain = result["test_auroc_gain_over_reference"]
    auroc = test["auroc"]
    sens = test["sensitivity"]
    meets_auroc = auroc["value"] >= TARGET_AUROC
    meets_sens = sens["value"] >= TARGET_SENSITIVITY
    out = [f"# Model card: {md.model_name} {md.model_version}", ""]
    out.append(f"- File: `{file_name}`, SHA-256 `{sha256}`")
    out += [f"- Created: {md.created} (UTC)", f"- Metadata format: {md.format_version}", ""]
    out += ["## Intended use", "", INTENDED_USE, ""]
    out += ["## Method", "", md.description, ""]
    out.append(f"Fused score (inside the ONNX graph): `{result['fusion']}`, each term standardised "
               "by its mean and sd over the benign training images; weights chosen on validation "
               "(benign validation images vs Train malignant images), never on Test.")
    out += ["", "Selection trace (validation AUROC):", ""]
    out += [f"- {d}: {v:.3f}" for d, v in result["selection_trace"]]
    out += ["", f"Decision: **anomalous** when score > T = **{md.threshold:.4f}**. "
            f"Rule: {md.threshold_rule}.", ""]
    if parity is not None:
        out += [f"Export parity: {parity.describe()}.", ""]

    out += ["## Test figures", ""]
    out.append(
        f"Test split: {test['n']} images ({test['n_malignant']} malignant, {test['n_benign']} "
        "benign); 95% CIs by stratified bootstrap (2000 resamples)."
    )
    out += ["", *figures_table(test, with_report=False), ""]
    clean = result["test_excluding_ambiguous"]
    out.append(f"Without the {len(clean['excluded'])} Test images whose bytes also sit under "
               f"a class of the other label ({clean['n']} images):")
    out += ["", *figures_table(clean, with_report=False), ""]
    out += ["Reference CAE on the same Test images (its own threshold):", "",
            *figures_table(ref, with_report=False), ""]
    out.append(
        f"AUROC gain over the reference, paired bootstrap: {gain['value']:+.3f} "
        f"(95% CI {gain['ci95'][0]:+.3f} to {gain['ci95'][1]:+.3f})."
    )
    out += ["", "## Against the goal", ""]
    out.append(
        f"- Test AUROC >= {TARGET_AUROC:.2f}: {'met' if meets_auroc else 'NOT met'} "
        f"({num(auroc['value'])}, CI {num(auroc['ci95'][0])}-{num(auroc['ci95'][1])}"
        + ("" if meets_auroc else f"; short by {TARGET_AUROC - auroc['value']:.3f}") + ")."
    )
    out.append(
        f"- Test sensitivity at the validation-chosen point >= {pct(TARGET_SENSITIVITY)}: "
        f"{'met' if meets_sens else 'NOT met'} ({pct(sens['value'])}, specificity "
        f"{pct(test['specificity']['value'])})."
    )
    qualifies = gain["ci95"][0] > 0.0
    out.append(
        "- Default model: "
        + ("qualifies (the paired 95% CI of the AUROC gain over the reference excludes 0)."
           if qualifies else
           "does **not** qualify: the paired 95% CI of the AUROC gain over the reference "
           f"({gain['ci95'][0]:+.3f} to {gain['ci95'][1]:+.3f}) does not lie above 0; the "
           "reference model stays the default.")
    )
    out.append("")
    out += ["## Operating points (all chosen on validation)", "",
            "| Operating point | Threshold | Validation sensitivity | Benign validation "
            "specificity | Test sensitivity | Test specificity |", "|---|---|---|---|---|---|"]
    for p in md.operating_points:
        out.append(
            f"| {p['label']} | {num(p['threshold'], 4)} | {pct(p.get('val_sensitivity'))} | "
            f"{pct(p.get('val_specificity'))} | {pct(p.get('test_sensitivity'))} | "
            f"{pct(p.get('test_specificity'))} |"
        )
    out += ["", "## Ablation", "", *_ablation_lines(result["ablation"]), ""]
    out += ["## Limits", "",
            "- Trained on benign images only; the subtype network knows four benign subtypes "
            "of one public collection, and flags what fits none of them.",
            "- The Test split has 118 images: every figure carries a wide confidence interval.",
            "- The heatmap shows the autoencoder's reconstruction error, one of the fused "
            "terms; the other terms are image-level and have no map.",
            "", "## Licence of the training images", "", LICENCE, ""]
    return "\n".join(out)


def write_improved_card(
    path: str | Path, md: ModelMetadata, result: dict[str, Any], file_name: str, sha256: str,
    parity: Any = None,
) -> Path:
    """Write the card atomically."""
    path = Path(path)
    text = render_improved_card(md, result, file_name, sha256, parity)
    write_text_atomic(path, text)
    return path
