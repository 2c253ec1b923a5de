"""The value of a case in the ``cases`` table (and its changelog): one JSON object, as bytes.

``{"p": partition, "due": unix seconds | None, "open": [clock ids], "near": [clock ids],
"s": CaseState JSON}``. The partition lets a worker keep only its active keys after a rebalance
(the memory store also yields standby and stale keys); ``due``, ``open`` and ``near`` rebuild
the deadline index and the gauges after a recovery without running the engine; ``s`` is the
engine's state (:meth:`sla.engine.CaseState.to_json`).

The table holds the encoded bytes, not the parsed object: a million open cases are a million
byte strings, which the garbage collector never has to walk, instead of tens of millions of
small dicts and lists. The bytes are the JSON Faust's own serializer wrote before, so a
changelog written by either form is read by the other.
"""

from __future__ import annotations

from typing import Any, TypedDict

import orjson

__all__ = ["CaseRow", "decode_row", "encode_row"]


class CaseRow(TypedDict):
    """A decoded table value."""

    p: int
    due: float | None
    open: list[str]
    near: list[str]
    s: dict[str, Any]


def encode_row(row: CaseRow) -> bytes:
    """The bytes stored for ``row``, in a block of their own size.

    ``orjson.dumps`` returns its bytes in the 4 KiB buffer it wrote them into, whatever their
    length: kept in a table, a 300-byte row would hold 4 KiB for as long as the case lives
    (measured with tracemalloc in the soak, 2026-11-25). The copy costs far less than that.
    """
    return memoryview(orjson.dumps(row)).tobytes()


def decode_row(value: Any) -> CaseRow | None:
    """The row stored as ``value`` (bytes, text or an already parsed object); None for none.

    Example:
        >>> decode_row(encode_row({"p": 1, "due": None, "open": [], "near": [], "s": {}}))["p"]
        1
    """
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview | str):
        parsed: CaseRow = orjson.loads(value)
        return parsed
    return value  # type: ignore[no-any-return]
