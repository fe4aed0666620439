"""
Argument checks of the store contract that need no storage (SPEC §11.1–11.2).
"""

from __future__ import annotations

from collections.abc import Sequence

from missionkit.models import Iteration, SessionState

__all__ = ["check_append", "check_new_session", "check_revisions", "check_start"]


def check_new_session(state: SessionState) -> None:
    """
    Require revision 1 and no iterations for `create_session`.

    Raises:
        ValueError: Either condition fails (a programming error).
    """
    if state.revision != 1:
        raise ValueError(f"a new session must have revision 1, not {state.revision}")
    if state.iterations:
        raise ValueError("a new session must not hold iterations")


def check_revisions(state: SessionState, expected_revision: int) -> None:
    """
    Require ``state.revision == expected_revision + 1`` before any I/O.

    Raises:
        ValueError: The revisions do not line up (a programming error).
    """
    if type(expected_revision) is not int:
        raise ValueError(f"expected_revision must be an int, not {expected_revision!r}")
    if state.revision != expected_revision + 1:
        raise ValueError(
            f"state.revision must be expected_revision + 1 "
            f"({expected_revision + 1}), not {state.revision}"
        )


def check_append(append: Sequence[Iteration], stored_count: int) -> None:
    """
    Require *append* to continue the stored iterations without a gap.

    Raises:
        ValueError: An item is not an `Iteration` or has the wrong index.
    """
    for offset, iteration in enumerate(append):
        if not isinstance(iteration, Iteration):
            raise ValueError(f"append[{offset}] is not an Iteration")
        expected = stored_count + offset
        if iteration.iteration_index != expected:
            raise ValueError(
                f"append[{offset}] has iteration_index {iteration.iteration_index}; "
                f"expected {expected} (stored iterations: {stored_count})"
            )


def check_start(start: int) -> None:
    """
    Require an int ≥ 0 as the first index of `load_iterations`.

    Raises:
        ValueError: *start* is not a non-negative int.
    """
    if type(start) is not int or start < 0:
        raise ValueError(f"start must be an int >= 0, not {start!r}")
