"""Languages: message catalogs, whose language a text is written in, and locale-aware numbers."""
