"""Languages: message catalogs, whose language a text is written in, and locale-aware numbers."""

# The language a reader gets when nothing says otherwise (no setting, no Slack locale).
DEFAULT_LOCALE = "en-US"

__all__ = ["DEFAULT_LOCALE"]
