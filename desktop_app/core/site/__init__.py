"""A site's own operating point: site profiles (private store) and calibration from a
folder of known-benign images."""
