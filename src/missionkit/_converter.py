"""
The private cattrs converter that turns record models into JSON data.

It is built once, at import, and never mutated afterwards: models whose JSON
has omission or flattening rules (criteria, strategies, cadences, …) define
``to_dict`` by hand and mark themselves with ``_handwritten_json``; every other
record is unstructured field by field, in field order.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import cattrs

from missionkit._jsonsafe import format_timestamp


def _handwritten(cls: Any) -> bool:
    return isinstance(cls, type) and getattr(cls, "_handwritten_json", False) is True


def make_converter() -> cattrs.Converter:
    """
    Build a converter configured for missionkit's record models.
    """
    converter = cattrs.Converter(unstruct_collection_overrides={tuple: list, Sequence: list})
    converter.register_unstructure_hook(datetime, format_timestamp)
    converter.register_unstructure_hook_func(_handwritten, lambda obj: obj.to_dict())
    return converter


CONVERTER = make_converter()
