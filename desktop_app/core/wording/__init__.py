"""One home for every text and formatter shared by reports, the window and the CLI:
intended use and column wording, terminal/spreadsheet-safe text, number formats."""
