"""Image in: reading files safely (regular files only, bomb and shape checks), DICOM
input, the one preprocessing path, heatmaps and field-of-view masks."""
