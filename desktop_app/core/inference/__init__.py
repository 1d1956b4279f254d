"""The engine: images -> preprocessing pool -> batched ONNX Runtime -> results,
the triage rule (flagged / borderline / not flagged) and the input/batch drift checks."""
