"""Qt threads and loaders that run core work off the GUI thread (every one stoppable)."""
