"""The application shell: QApplication start-up, the main window, menus built from the
declared actions, settings, status, logging."""
