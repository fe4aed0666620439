"""
Argument checks, filtering, ordering and pagination of session listings (SPEC §11.6).

Every store builds one `SessionSummary` per stored session and hands the list
to `arrange`, so all stores order, filter and page identically.

InvalidArgument reasons:

- ``status``: ``unknown_status``;
- ``order_by``: ``invalid_value``;
- ``descending``: ``must_be_bool``;
- ``limit``: ``must_be_positive_int``;
- ``offset``: ``must_be_non_negative_int``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from missionkit._models._literals import STATUSES
from missionkit.errors import (
    InvalidArgument,
    MissionkitError,
    SessionCorrupt,
    StoreError,
    UnsupportedSchemaVersion,
)
from missionkit.models import SessionState, SessionSummary

__all__ = [
    "ORDER_KEYS",
    "UNREADABLE",
    "arrange",
    "check_listing_args",
    "summary_of",
    "unreadable_summary",
]

UNREADABLE = "unreadable"
ORDER_KEYS = ("created_at", "updated_at", "session_id")


def check_listing_args(
    status: object, order_by: object, descending: object, limit: object, offset: object
) -> None:
    """
    Reject malformed listing arguments before any storage is read.

    Raises:
        missionkit.errors.InvalidArgument: The first malformed argument.
    """
    if status is not None and (not isinstance(status, str) or status not in _STATUS_FILTERS):
        raise InvalidArgument("status", "unknown_status")
    if not isinstance(order_by, str) or order_by not in ORDER_KEYS:
        raise InvalidArgument("order_by", "invalid_value")
    if type(descending) is not bool:
        raise InvalidArgument("descending", "must_be_bool")
    if limit is not None and (type(limit) is not int or limit <= 0):
        raise InvalidArgument("limit", "must_be_positive_int")
    if type(offset) is not int or offset < 0:
        raise InvalidArgument("offset", "must_be_non_negative_int")


_STATUS_FILTERS = frozenset((*STATUSES, UNREADABLE))


def arrange(
    summaries: Iterable[SessionSummary],
    *,
    status: str | None,
    order_by: str,
    descending: bool,
    limit: int | None,
    offset: int,
) -> list[SessionSummary]:
    """
    Filter, order and page summaries whose arguments passed `check_listing_args`.

    Readable sessions come first, ordered by *order_by* (ties by id ascending);
    unreadable ones follow, by id ascending.
    """
    readable: list[SessionSummary] = []
    unreadable: list[SessionSummary] = []
    for summary in summaries:
        if summary.status == UNREADABLE:
            if status in (None, UNREADABLE):
                unreadable.append(summary)
        elif status is None or summary.status == status:
            readable.append(summary)
    readable.sort(key=_by_id)
    if order_by != "session_id":
        # Python's sort is stable even with reverse=True, so equal keys keep
        # the ascending id order established above.
        readable.sort(key=lambda s: _order_value(s, order_by), reverse=descending)
    elif descending:
        readable.reverse()
    unreadable.sort(key=_by_id)
    ordered = readable + unreadable
    end = None if limit is None else offset + limit
    return ordered[offset:end]


def _by_id(summary: SessionSummary) -> str:
    return summary.session_id


def _order_value(summary: SessionSummary, order_by: str) -> Any:
    return getattr(summary, order_by)


def summary_of(header: SessionState, iteration_count: int) -> SessionSummary:
    """
    The summary of a readable session: its header's listing fields and its iteration count.
    """
    return SessionSummary(
        session_id=header.session_id,
        status=header.status,
        created_at=header.created_at,
        updated_at=header.updated_at,
        iteration_count=iteration_count,
        final_verdict=header.final_verdict,
        final_verdict_reason=header.final_verdict_reason,
    )


def unreadable_summary(session_id: str, error: Exception) -> SessionSummary:
    """
    The summary of a session that cannot be read, ``error`` as ``"<code>: <problem>"``.

    For `SessionCorrupt` the problem is its *problem*; for other store errors
    (`UnsupportedSchemaVersion`, I/O failures) it is the error's message.
    """
    if isinstance(error, SessionCorrupt | StoreError) and not isinstance(
        error, UnsupportedSchemaVersion
    ):
        text = f"{error.code}: {error.problem}"
    elif isinstance(error, MissionkitError):
        text = f"{error.code}: {error}"
    else:
        text = f"store_error: {type(error).__name__}: {error}"
    return SessionSummary(session_id=session_id, status=UNREADABLE, error=text)
