"""
The child protocol's framing: one JSON object per line, each at most 16 MiB (SPEC §9.4).

Child → host: ``call {id, tool, args}``, ``observe {key, value}``,
``event {name, fields}``, ``done``, ``error {error_message}``, ``limit {what}``.
Host → child: ``start {script, allowlist, max_calls, memory_bytes, cpu_seconds}``
(the last three are this implementation's additions), ``result {id, ok, value |
error_type, error_message}``. Text is ASCII-escaped, so lone surrogates survive
and a message never contains a raw newline.
"""

from __future__ import annotations

import json
from typing import Any, Final

__all__ = ["MAX_MESSAGE_BYTES", "ProtocolError", "decode", "encode"]

MAX_MESSAGE_BYTES: Final = 16 * 1024 * 1024


class ProtocolError(Exception):
    """
    A line that is not a well-formed message.
    """


def encode(message: dict[str, Any]) -> bytes:
    """
    One message as a line, newline included.

    Raises:
        ProtocolError: The message is larger than :data:`MAX_MESSAGE_BYTES`.
    """
    data = json.dumps(message, ensure_ascii=True, separators=(",", ":"), allow_nan=True)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {len(data)} bytes exceeds the 16 MiB limit")
    return data.encode("ascii") + b"\n"


def decode(line: bytes) -> dict[str, Any]:
    """
    Parse one line into a message with a ``type``.

    Raises:
        ProtocolError: Oversized, not JSON, nested too deeply, or not a typed object.
    """
    if len(line) > MAX_MESSAGE_BYTES + 1:
        raise ProtocolError("message exceeds the 16 MiB limit")
    try:
        message = json.loads(line)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"undecodable message: {type(exc).__name__}") from None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ProtocolError("message is not an object with a type")
    return message
