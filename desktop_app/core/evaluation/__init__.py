"""Accuracy with confidence intervals: metrics, the per-site suite, labelled
dataset scanning, the label mapping and the committed evaluation splits."""
