"""
The consultation procedure (SPEC §8.4, §8.7).

Call the sampler once, bounded in time, and classify the outcome.

Nothing here emits audit events or touches a session; the engine records the
returned `SamplingResult`.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, Literal, TypeAlias, TypeVar

import attrs

from missionkit._text import TEXT_LIMIT, exception_text
from missionkit._tools import positive_timeout, read_attribute
from missionkit.errors import MissionValidationError
from missionkit.sampling._parse import (
    FinalLessons,
    OutputRejected,
    StrategyRevision,
    extract_json_object,
    validate_final_lessons,
    validate_strategy_revision,
)
from missionkit.sampling._prompt import Purpose, SamplingPrompt, fit_prompt

__all__ = [
    "SamplerTransportError",
    "SamplingResult",
    "call_sampler",
    "consult",
    "consult_final_lessons",
    "consult_strategy_revision",
    "sampler_backend",
    "sampler_model_id",
    "sampler_timeout",
]

T = TypeVar("T")
SamplingStatus: TypeAlias = Literal["used", "rejected", "disabled", "unavailable"]


@attrs.frozen
class SamplingResult(Generic[T]):
    """
    The outcome of one consultation.

    Attributes:
        purpose: ``strategy_revision`` or ``final_lessons``.
        status: ``used``, ``rejected``, ``disabled`` or ``unavailable``.
        reason: The fallback reason token (``sampling_rejection_reason``);
            None when used.
        validation_error: The audit ``validation_error``: the reason token, or
            for ``transport_error`` the exception text (≤200); None when used.
        output: The sampler's raw text when it returned a str (uncapped; the
            engine caps what it stores), else None.
        output_bytes: UTF-8 size of *output* when used (``model_output_bytes``), else None.
        parsed: The validated answer when used (`StrategyRevision` or
            `FinalLessons` for the built-in validators), else None.
        backend: The sampler's ``backend_name``, ``"host"`` by default,
            ``"none"`` without a sampler.
        model_id: The sampler's non-empty ``model_id``, else None.
    """

    purpose: Purpose
    status: SamplingStatus
    reason: str | None
    validation_error: str | None
    output: str | None
    output_bytes: int | None
    parsed: T | None
    backend: str
    model_id: str | None

    @property
    def used(self) -> bool:
        """
        Whether the sampler's answer was accepted.
        """
        return self.status == "used"


class SamplerTransportError(Exception):
    """
    The sampler raised, timed out or returned a non-str.

    Attributes:
        text: The exception text to record (not yet cut to 200 characters).
    """

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


def sampler_backend(sampler: object | None) -> str:
    """
    The audit ``sampling_backend`` for *sampler*: ``none``, its ``backend_name``, or ``host``.
    """
    if sampler is None:
        return "none"
    name = read_attribute(sampler, "backend_name")
    return name if isinstance(name, str) and name else "host"


def sampler_model_id(sampler: object | None) -> str | None:
    """
    *sampler*'s ``model_id`` when it is a non-empty str.
    """
    value = read_attribute(sampler, "model_id")
    return value if isinstance(value, str) and value else None


def sampler_timeout(sampler: object | None) -> float | None:
    """
    *sampler*'s ``timeout`` when it is a positive finite number (bools excluded), else None.
    """
    return positive_timeout(read_attribute(sampler, "timeout"))


def _bound(*limits: float | None) -> float | None:
    defined = [max(0.0, limit) for limit in limits if limit is not None]
    return min(defined) if defined else None


def _is_async_callable(func: object) -> bool:
    if inspect.iscoroutinefunction(func):
        return True
    call = read_attribute(func, "__call__")
    return call is not None and inspect.iscoroutinefunction(call)


async def _in_daemon_thread(func: Callable[[str], Any], arg: str) -> Any:
    """
    Run ``func(arg)`` on a new daemon thread and await its result.

    A dedicated daemon thread (rather than the loop's default executor) lets a
    timed-out call be abandoned: nothing ever joins it, so a hung sampler
    cannot delay loop shutdown or interpreter exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()
    context = contextvars.copy_context()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(value)
        else:
            future.set_exception(error)

    def run() -> None:
        value: Any = None
        error: BaseException | None = None
        try:
            value = context.run(func, arg)
        except Exception as exc:
            error = exc
        except BaseException as exc:
            error = RuntimeError(f"sampler raised {type(exc).__name__}")
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # The loop is closed: the caller stopped waiting long ago.

    threading.Thread(target=run, name="missionkit-sampler", daemon=True).start()
    return await future


async def call_sampler(sampler: Callable[[str], Any], prompt: str, timeout: float | None) -> str:
    """
    Call *sampler* once with *prompt*, bounded by *timeout* seconds (None: unbounded).

    Sync samplers run on a daemon thread that is abandoned on timeout; async
    samplers (and awaitables returned by sync ones) are awaited and cancelled
    on timeout. A ``str`` subclass result is returned as a plain ``str``.

    Raises:
        SamplerTransportError: The sampler raised (exception text), timed out
            (``TimeoutError: sampler call exceeded <t>s``), or returned a
            non-str (``TypeError: sampler returned <type name>``).
    """
    try:
        async with asyncio.timeout(timeout) as scope:
            if _is_async_callable(sampler):
                result = sampler(prompt)
            else:
                result = await _in_daemon_thread(sampler, prompt)
            if inspect.isawaitable(result):
                result = await result
    except TimeoutError as exc:
        if scope.expired():
            assert timeout is not None
            raise SamplerTransportError(
                f"TimeoutError: sampler call exceeded {format(timeout, 'g')}s"
            ) from None
        raise SamplerTransportError(exception_text(exc)) from exc
    except Exception as exc:
        raise SamplerTransportError(exception_text(exc)) from exc
    if not isinstance(result, str):
        raise SamplerTransportError(f"TypeError: sampler returned {type(result).__name__}")
    return str.__str__(result)


def _not_used(
    prompt: SamplingPrompt,
    sampler: object | None,
    status: SamplingStatus,
    reason: str,
    *,
    validation_error: str | None = None,
    output: str | None = None,
) -> SamplingResult[Any]:
    return SamplingResult(
        purpose=prompt.purpose,
        status=status,
        reason=reason,
        validation_error=reason if validation_error is None else validation_error,
        output=output,
        output_bytes=None,
        parsed=None,
        backend=sampler_backend(sampler),
        model_id=sampler_model_id(sampler),
    )


async def consult(
    sampler: Callable[[str], Any] | None,
    prompt: SamplingPrompt,
    *,
    remaining_seconds: float | None,
    validate: Callable[[dict[str, Any]], T],
) -> SamplingResult[T]:
    """
    Consult *sampler* once about *prompt* (SPEC §8.4).

    1. No sampler → ``disabled`` / ``no_backend_resolved`` (backend ``none``).
    2. Fit the prompt to the budget; too large → ``unavailable`` /
       ``prompt_too_large`` and the sampler is not called.
    3. Call the sampler, bounded by ``min(sampler.timeout, remaining_seconds)``
       where defined; raising, timing out or returning a non-str →
       ``rejected`` / ``transport_error`` with the exception text (≤200) as
       *validation_error*.
    4. Take the JSON object from the output (else ``json_parse``) and pass it
       to *validate*; an `OutputRejected` or `MissionValidationError` it
       raises gives ``rejected`` with its reason token.
    5. Otherwise ``used``, with *validate*'s return value as *parsed*.

    Args:
        sampler: The Mission's sampler, or None.
        prompt: The unfitted prompt (see `build_prompt`).
        remaining_seconds: Active wall-clock seconds left, or None if uncapped.
        validate: Checks the parsed JSON object and returns the answer;
            see `consult_strategy_revision` and `consult_final_lessons`.

    Returns:
        The classified outcome. Never raises for anything the sampler does;
        exceptions other than the two above raised by *validate* propagate.
    """
    if sampler is None:
        return _not_used(prompt, None, "disabled", "no_backend_resolved")
    text = fit_prompt(prompt)
    if text is None:
        return _not_used(prompt, sampler, "unavailable", "prompt_too_large")
    timeout = _bound(sampler_timeout(sampler), remaining_seconds)
    try:
        output = await call_sampler(sampler, text, timeout)
    except SamplerTransportError as exc:
        return _not_used(
            prompt, sampler, "rejected", "transport_error", validation_error=exc.text[:TEXT_LIMIT]
        )
    try:
        parsed = validate(extract_json_object(output))
    except OutputRejected as exc:
        return _not_used(prompt, sampler, "rejected", exc.reason, output=output)
    except MissionValidationError as exc:
        reason = exc.details.get("reason")
        token = reason if isinstance(reason, str) else "schema_mismatch"
        return _not_used(prompt, sampler, "rejected", token, output=output)
    return SamplingResult(
        purpose=prompt.purpose,
        status="used",
        reason=None,
        validation_error=None,
        output=output,
        output_bytes=len(output.encode("utf-8", "surrogatepass")),
        parsed=parsed,
        backend=sampler_backend(sampler),
        model_id=sampler_model_id(sampler),
    )


async def consult_strategy_revision(
    sampler: Callable[[str], Any] | None,
    prompt: SamplingPrompt,
    *,
    remaining_seconds: float | None,
    allowlist: Sequence[str],
    allow_scripts: bool,
    known_tools: Mapping[str, Mapping[str, Any] | None],
) -> SamplingResult[StrategyRevision]:
    """
    `consult` with the ``strategy_revision`` checks of SPEC §8.6 and catalog validation.

    Args:
        sampler: See `consult`.
        prompt: A ``strategy_revision`` prompt.
        remaining_seconds: See `consult`.
        allowlist: The session's tool allowlist.
        allow_scripts: The session's ``allow_scripted_strategies``.
        known_tools: Tool name → ``input_schema`` (or None) for every tool
            known to the Mission.
    """

    def validate(output: dict[str, Any]) -> StrategyRevision:
        return validate_strategy_revision(
            output, allowlist=allowlist, allow_scripts=allow_scripts, known_tools=known_tools
        )

    return await consult(sampler, prompt, remaining_seconds=remaining_seconds, validate=validate)


async def consult_final_lessons(
    sampler: Callable[[str], Any] | None,
    prompt: SamplingPrompt,
    *,
    remaining_seconds: float | None,
) -> SamplingResult[FinalLessons]:
    """
    `consult` with the ``final_lessons`` checks of SPEC §8.6.
    """
    return await consult(
        sampler, prompt, remaining_seconds=remaining_seconds, validate=validate_final_lessons
    )
