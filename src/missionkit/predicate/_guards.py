"""
Run-time guards compiled into predicate functions (SPEC §5.7).

:func:`make_guards` returns fresh closures bound to one :class:`PredicateLimits`;
the compiler places them in the predicate function's globals under names that
start with ``__``, which no predicate source can spell.

The work meter is a one-element list ``[remaining]`` created at the start of
each evaluation and passed explicitly, so concurrent evaluations of one
predicate never share state.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from itertools import repeat
from typing import Any, Final

from missionkit.errors import PredicateLimitExceeded
from missionkit.predicate._limits import PredicateLimits

__all__ = ["GUARD_NAMES", "digit_runs_exceed", "make_guards", "percent_format_exceeds"]

# Any decimal digits: format() reads Arabic-Indic, fullwidth, … digits as widths too.
_DIGIT_RUN: Final = re.compile(r"\d+")
_ASCII_DIGITS: Final = frozenset("0123456789")
_PERCENT_FLAGS: Final = frozenset("#0- +")
_SEQUENCES: Final = (str, list, tuple)
_SCALAR_TYPES: Final = frozenset({type(None), bool, int, float, str})
_LEAF_TYPES: Final = frozenset({type(None), bool, int, float, complex})
_STR_ONLY: Final = frozenset({str})
_INT_ONLY: Final = frozenset({int})
_CONTAINERS: Final = frozenset(
    {list, tuple, set, frozenset, type({}.keys()), type({}.values()), type({}.items())}
)

GUARD_NAMES: Final = (
    "__pow",
    "__mul",
    "__lshift",
    "__mod",
    "__modc",
    "__add",
    "__slice",
    "__contains",
    "__iter",
    "__render",
    "__format",
    "__str",
    "__int",
    "__float",
    "__sum",
    "__any",
    "__all",
    "__min",
    "__max",
    "__sorted",
    "__receiver",
)
"""
Global names of the guard helpers, as the compiler emits them.
"""

Meter = list[int]

#: Work units one guarded operation in a loop body costs on top of the iteration itself.
#: A guarded call (``**``, ``str``, an f-string field with a spec, …) costs about five to
#: eight plain loop iterations on CPython 3.11 and ``str % args`` (which scans its format)
#: about thirty; building a container display as much as a guarded call (the garbage
#: collector then also walks every live container). Charging them keeps one million
#: units within roughly 100 ms of CPU and a bounded amount of memory for any loop body.
GUARDED_CALL_UNITS: Final = 4
FORMAT_CALL_UNITS: Final = 24
DISPLAY_UNITS: Final = 4


def _number_exceeds(digits: str, limit: int) -> bool:
    """
    Tell whether the decimal digit string *digits* denotes a number above *limit*.

    Very long runs are decided by their length so that no huge int is built.
    """
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    significant = digits.lstrip("0")
    if len(significant) > len(str(limit)):
        return True
    return int(significant or "0") > limit


def digit_runs_exceed(spec: str, limit: int) -> bool:
    """
    Tell whether any maximal run of decimal digits in *spec* exceeds *limit*.
    """
    return any(_number_exceeds(run, limit) for run in _DIGIT_RUN.findall(spec))


def percent_format_exceeds(fmt: str, limit: int) -> bool:
    """
    Tell whether a ``%`` format string asks for a ``*`` or a too large width or precision.
    """
    i = 0
    n = len(fmt)
    while True:
        i = fmt.find("%", i)
        if i < 0:
            return False
        i += 1
        if i < n and fmt[i] == "(":
            depth = 1
            i += 1
            while i < n and depth:
                if fmt[i] == "(":
                    depth += 1
                elif fmt[i] == ")":
                    depth -= 1
                i += 1
        while i < n and fmt[i] in _PERCENT_FLAGS:
            i += 1
        for _part in range(2):
            if i < n and fmt[i] == "*":
                return True
            start = i
            while i < n and fmt[i] in _ASCII_DIGITS:
                i += 1
            if i > start and _number_exceeds(fmt[start:i], limit):
                return True
            if _part == 0 and i < n and fmt[i] == ".":
                i += 1
            else:
                break
        i += 1


def make_guards(limits: PredicateLimits) -> dict[str, Callable[..., Any]]:
    """
    Build the guard helpers for one set of *limits*.

    Args:
        limits: The limits the helpers enforce.

    Returns:
        A mapping from each name in :data:`GUARD_NAMES` to its helper.
    """
    max_bits = limits.max_int_bits
    max_seq = limits.max_sequence_length
    max_width = limits.max_format_width
    max_work = limits.max_work

    def breach(what: str, limit: int) -> PredicateLimitExceeded:
        return PredicateLimitExceeded(what, limit)

    def charge(m: Meter, n: int) -> None:
        left = m[0] - n
        if left < 0:
            raise breach("work", max_work)
        m[0] = left

    def scan(items: Any, total: int, budget: int, stack: list[Any], depth: int) -> int:
        """
        Add the elements of one container to *total*; queue nested containers one level deeper.

        Homogeneous containers of scalars or strings are summed at C speed.
        """
        n = len(items)
        total += n
        if total > budget:
            return total
        if n < 8:
            for item in items:
                kind = type(item)
                if kind is str:
                    total += len(item)
                elif kind is int:
                    total += item.bit_length() >> 3
                elif kind not in _LEAF_TYPES:
                    stack.append((item, depth))
            return total
        kinds = set(map(type, items))
        if kinds <= _LEAF_TYPES:
            if int in kinds:
                total += int_bytes(items, kinds)
            return total
        if kinds == _STR_ONLY:
            return total + sum(map(len, items))
        stack.extend(zip(items, repeat(depth)))
        return total

    def int_bytes(items: Any, kinds: set[type]) -> int:
        # An int renders in time that grows with the square of its digits:
        # beyond its unit as a scalar, it costs a unit per byte.
        if kinds == _INT_ONLY:
            return sum(map(int.bit_length, items)) >> 3
        return sum(item.bit_length() for item in items if type(item) is int) >> 3

    def size(m: Meter, value: object) -> int:
        """
        Count what rendering *value* touches, stopping once it exceeds the meter.

        A unit per scalar, per character of a string and per byte of an int.

        Rendering nests one C-level call per container level, so anything nested
        deeper than the recursion limit fails natively with `RecursionError`:
        raise that at once instead of walking the rest of the structure.
        """
        budget = m[0]
        deepest = sys.getrecursionlimit()
        total = 1
        stack: list[Any] = [(value, 0)]
        while stack and total <= budget:
            item, depth = stack.pop()
            kind = type(item)
            if kind is str:
                total += len(item)
                continue
            if kind is int:
                total += item.bit_length() >> 3
                continue
            if depth > deepest:
                raise RecursionError(
                    "maximum recursion depth exceeded while getting the repr of an object"
                )
            if kind is dict:
                total = scan(item.keys(), total, budget, stack, depth + 1)
                total = scan(item.values(), total, budget, stack, depth + 1)
            elif kind in _CONTAINERS:
                total = scan(item, total, budget, stack, depth + 1)
        return total

    def int_bits(a: object, b: object) -> bool:
        return isinstance(a, int) and isinstance(b, int)

    def g_pow(a: Any, b: Any) -> Any:
        if int_bits(a, b) and b >= 0:
            abits = a.bit_length()
            if abits > 1 and b > 1:
                if (abits - 1) * b + 1 > max_bits:
                    raise breach("int_bits", max_bits)
                if abits * b > max_bits:
                    result = a**b
                    if result.bit_length() > max_bits:
                        raise breach("int_bits", max_bits)
                    return result
        return a**b

    def g_mul(m: Meter, a: Any, b: Any) -> Any:
        if isinstance(a, int):
            if isinstance(b, int):
                hi = a.bit_length() + b.bit_length()
                if hi > max_bits and (
                    hi - 1 > max_bits or (a and b and (a * b).bit_length() > max_bits)
                ):
                    raise breach("int_bits", max_bits)
                return a * b
            seq, n = b, a
        elif isinstance(b, int):
            seq, n = a, b
        else:
            return a * b
        if isinstance(seq, _SEQUENCES) and n > 0:
            length = len(seq) * n
            if length > max_seq:
                raise breach("sequence_length", max_seq)
            charge(m, length)
        return a * b

    def g_lshift(a: Any, b: Any) -> Any:
        if int_bits(a, b) and b >= 0 and a and a.bit_length() + b > max_bits:
            raise breach("int_bits", max_bits)
        return a << b

    def g_mod(m: Meter, a: Any, b: Any) -> Any:
        if type(a) is str:
            if percent_format_exceeds(a, max_width):
                raise breach("format_width", max_width)
            # A mapping's value is rendered once per ``%(key)`` that names it.
            uses = max(1, a.count("%(")) if isinstance(b, dict) else 1
            charge(m, len(a) + uses * size(m, b))
        return a % b

    def g_modc(m: Meter, a: str, b: Any, uses: int) -> Any:
        # `g_mod` for a literal format string, checked and counted at compile time.
        charge(m, len(a) + (uses if isinstance(b, dict) else 1) * size(m, b))
        return a % b

    def g_add(m: Meter, a: Any, b: Any) -> Any:
        kind = type(a)
        if (kind is str or kind is list or kind is tuple) and type(b) is kind:
            charge(m, len(a) + len(b))
        return a + b

    def g_slice(m: Meter, value: Any, lower: Any, upper: Any, step: Any) -> Any:
        index = slice(lower, upper, step)
        if isinstance(value, _SEQUENCES):
            charge(m, len(range(len(value))[index]))
        return value[index]

    def g_contains(m: Meter, container: Any) -> Any:
        kind = type(container)
        if kind is dict or kind is list or kind is str or kind is tuple:
            n = len(container)
            if n:
                charge(m, n)
        return container

    def per_item(m: Meter, iterator: Iterator[Any], weight: int) -> Iterator[Any]:
        for item in iterator:
            charge(m, weight)
            yield item

    def g_iter(m: Meter, iterable: Any, weight: int = 1) -> Any:
        # *weight* is the compiler's estimate of one iteration's cost in units:
        # 1 plus GUARDED_CALL_UNITS per guarded operation the loop body runs.
        try:
            n = len(iterable)
        except TypeError:
            return per_item(m, iter(iterable), weight)
        if n:
            charge(m, n * weight)
        return iterable

    def g_render(m: Meter, value: Any) -> Any:
        charge(m, size(m, value))
        return value

    def g_format(m: Meter, value: Any, conversion: int, spec: str) -> str:
        if conversion != -1 or not spec:
            charge(m, size(m, value))
        elif type(value) is str:
            charge(m, len(value))
        if conversion == 115:
            value = str(value)
        elif conversion == 114:
            value = repr(value)
        elif conversion == 97:
            value = ascii(value)
        if digit_runs_exceed(spec, max_width):
            raise breach("format_width", max_width)
        return format(value, spec)

    def g_str(m: Meter, *args: Any, **kwargs: Any) -> str:
        if args:
            charge(m, size(m, args[0]))
        elif "object" in kwargs:
            charge(m, size(m, kwargs["object"]))
        return str(*args, **kwargs)

    def g_int(m: Meter, *args: Any, **kwargs: Any) -> int:
        if args and type(args[0]) is str:
            charge(m, len(args[0]))
        result = int(*args, **kwargs)
        # int(text, base) builds ints no arithmetic guard saw.
        if type(result) is int and result.bit_length() > max_bits:
            raise breach("int_bits", max_bits)
        return result

    def g_float(m: Meter, *args: Any) -> float:
        if args and type(args[0]) is str:
            charge(m, len(args[0]))
        return float(*args)

    def sized(m: Meter, value: Any) -> None:
        try:
            n = len(value)
        except TypeError:
            return
        charge(m, n)

    def g_sum(m: Meter, value: Any) -> Any:
        sized(m, value)
        return sum(value)

    def g_any(m: Meter, value: Any) -> bool:
        sized(m, value)
        return any(value)

    def g_all(m: Meter, value: Any) -> bool:
        sized(m, value)
        return all(value)

    def scalars(m: Meter, name: str, items: Iterable[Any]) -> list[Any]:
        # One charge of element count plus string lengths (SPEC §5.3); the count
        # of a sized argument is charged before it is copied.
        try:
            counted: int | None = len(items)  # type: ignore[arg-type]
        except TypeError:
            counted = None
        if counted is not None:
            charge(m, counted)
        values = list(items)
        total = len(values) if counted is None else 0
        for value in values:
            kind = type(value)
            if kind is str:
                total += len(value)
            elif kind not in _SCALAR_TYPES:
                raise TypeError(
                    f"{name}() accepts only None, bool, int, float and str elements,"
                    f" not {kind.__name__}"
                )
        charge(m, total)
        return values

    def g_min(m: Meter, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return min(scalars(m, "min", args[0]), **kwargs)
        return min(*scalars(m, "min", args), **kwargs)

    def g_max(m: Meter, *args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return max(scalars(m, "max", args[0]), **kwargs)
        return max(*scalars(m, "max", args), **kwargs)

    def g_sorted(m: Meter, *args: Any, **kwargs: Any) -> list[Any]:
        if len(args) == 1:
            return sorted(scalars(m, "sorted", args[0]), **kwargs)
        return sorted(*args, **kwargs)

    def g_receiver(m: Meter, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            n = len(value)
            if n:
                charge(m, n)
        elif kind is int or kind is tuple:
            charge(m, size(m, value))
        return value

    helpers: dict[str, Callable[..., Any]] = {
        "__pow": g_pow,
        "__mul": g_mul,
        "__lshift": g_lshift,
        "__mod": g_mod,
        "__modc": g_modc,
        "__add": g_add,
        "__slice": g_slice,
        "__contains": g_contains,
        "__iter": g_iter,
        "__render": g_render,
        "__format": g_format,
        "__str": g_str,
        "__int": g_int,
        "__float": g_float,
        "__sum": g_sum,
        "__any": g_any,
        "__all": g_all,
        "__min": g_min,
        "__max": g_max,
        "__sorted": g_sorted,
        "__receiver": g_receiver,
    }
    return helpers
