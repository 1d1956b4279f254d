"""Markdown tables for docs/ACCURACY.md from a pipeline result (ablation.json)."""

from __future__ import annotations

from typing import Any

from export.model_card import num, pct


def _ci(entry: dict[str, Any]) -> str:
    lo, hi = entry["ci95"]
    return f"{num(entry['value'])} [{num(lo)}, {num(hi)}]"


def ablation_table(result: dict[str, Any]) -> str:
    lines = [
        "| # | Fusion (weight x benign z-score) | Validation AUROC [95% CI] | Test AUROC [95% CI] "
        "| Test AUROC w/o ambiguous [95% CI] |",
        "|---|---|---|---|---|",
    ]
    for i, r in enumerate(result["ablation"], start=1):
        lines.append(
            f"| {i} | `{r['fusion']}` | {_ci(r['val_auroc'])} | {_ci(r['test_auroc'])} | "
            f"{_ci(r['test_auroc_unambiguous'])} |"
        )
    return "\n".join(lines)


def operating_points_table(result: dict[str, Any]) -> str:
    lines = [
        "| Operating point (chosen on validation) | Threshold | Val sensitivity | "
        "Benign val specificity | Test sensitivity | Test specificity |",
        "|---|---|---|---|---|---|",
    ]
    for p in result["operating_points"]:
        lines.append(
            f"| {p['label']} | {p['threshold']:.3f} | {pct(p['val_sensitivity'])} | "
            f"{pct(p['val_specificity'])} | {pct(p['test_sensitivity'])} | "
            f"{pct(p['test_specificity'])} |"
        )
    return "\n".join(lines)


def headline(result: dict[str, Any]) -> str:
    t, r, g = result["test"], result["reference_test"], result["test_auroc_gain_over_reference"]
    c = result["test_excluding_ambiguous"]
    rows = [
        "| Figure (Test, 95% CI) | Improved | Reference CAE |",
        "|---|---|---|",
        f"| AUROC, all {t['n']} | {_ci(t['auroc'])} | {_ci(r['auroc'])} |",
        f"| AUROC, {c['n']} without ambiguous | {_ci(c['auroc'])} | "
        f"{_ci(result['reference_test_excluding_ambiguous']['auroc'])} |",
        f"| Sensitivity at its threshold | {pct(t['sensitivity']['value'])} "
        f"[{pct(t['sensitivity']['ci95'][0])}, {pct(t['sensitivity']['ci95'][1])}] | "
        f"{pct(r['sensitivity']['value'])} [{pct(r['sensitivity']['ci95'][0])}, "
        f"{pct(r['sensitivity']['ci95'][1])}] |",
        f"| Specificity at its threshold | {pct(t['specificity']['value'])} "
        f"[{pct(t['specificity']['ci95'][0])}, {pct(t['specificity']['ci95'][1])}] | "
        f"{pct(r['specificity']['value'])} [{pct(r['specificity']['ci95'][0])}, "
        f"{pct(r['specificity']['ci95'][1])}] |",
        f"| AUROC gain (paired bootstrap) | {g['value']:+.3f} [{g['ci95'][0]:+.3f}, "
        f"{g['ci95'][1]:+.3f}] | |",
    ]
    return "\n".join(rows)
