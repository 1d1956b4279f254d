"""The bottom of core: typed errors, resource and user paths, atomic file writes, the daemon
thread pool. Imports nothing else from desktop_app."""
