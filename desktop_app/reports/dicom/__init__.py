"""DICOM out: SR, Encapsulated PDF and heatmap Secondary Capture objects, and sending
them to a PACS (the app's one network use, only when asked)."""
