"""The panels of the main window: case viewer, results table and its item model, score
plot, DICOM details, operating point, site calibration, review."""
