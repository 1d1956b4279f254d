"""Improved benign-only anomaly detector: in-graph feature terms fused with the CAE score."""
