"""PDF case reports and summaries, and the image rendering they share."""
