"""
Exception text as every record, event and envelope shows it (SPEC §1.4).
"""

from __future__ import annotations

__all__ = ["TEXT_LIMIT", "exception_text"]

#: Where SPEC marks a text "(≤200)".
TEXT_LIMIT = 200


def exception_text(exc: BaseException, limit: int | None = None) -> str:
    """
    ``f"{type(exc).__name__}: {exc}"``; ``<unprintable>`` when ``str(exc)`` raises.

    Args:
        exc: The exception.
        limit: Cut the text to this many characters (None: keep it whole).
    """
    try:
        message = str(exc)
    except Exception:  # a hostile __str__ must not escape
        message = "<unprintable>"
    text = f"{type(exc).__name__}: {message}"
    return text if limit is None else text[:limit]
