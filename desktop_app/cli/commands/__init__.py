"""One module per dermscreen command, each with add_parser; commands never import
each other (shared options live in desktop_app.cli.options)."""
