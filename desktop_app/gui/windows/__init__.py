"""Dialogs and secondary windows: about and message bars, export, report details,
compare."""
