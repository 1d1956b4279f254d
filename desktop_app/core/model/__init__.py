"""The ONNX contract: the model file and session, its metadata (loaded -> migrated ->
validated), the benign score statistics and operating points that travel inside it."""
