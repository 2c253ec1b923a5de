"""The canonical event model: reading its attributes without ``model_dump``."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sla.events import _CONTROL, Attributes, _refuse_control, set_attributes

_VALUES = st.one_of(
    st.none(),
    st.text(alphabet="ab -", max_size=3),
    st.integers(),
    st.booleans(),
    st.floats(allow_nan=False),
)


class TestSetAttributes:
    @given(
        st.dictionaries(
            st.sampled_from(["channel", "team", "region", "impact", "urgency", "count"]),
            _VALUES,
            max_size=6,
        )
    )
    def test_same_as_model_dump(self, raw: dict[str, Any]) -> None:
        """Same keys, values and order as ``model_dump(exclude_none=True)``."""
        declared = {"channel", "team", "region"}
        raw = {k: (str(v) if k in declared and v is not None else v) for k, v in raw.items()}
        attributes = Attributes.model_validate(raw)
        expected = attributes.model_dump(exclude_none=True)
        assert list(expected.items()) == list(set_attributes(attributes).items())

    def test_promised_time_and_unusual_extras(self) -> None:
        """A datetime stays a datetime; an extra that is not a plain scalar is dumped as before."""
        promised = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
        attributes = Attributes.model_validate(
            {"promised_by": promised, "nested": {"a": [1, None]}, "team": "T1"}
        )
        assert attributes.model_dump(exclude_none=True) == set_attributes(attributes)
        assert promised is set_attributes(Attributes(promised_by=promised))["promised_by"]


_REFUSED = "\x00\x09\x0a\x0d\x1f\x7f\x85\x9f\u2028\u2029\ufeff"


@given(
    st.text(
        alphabet=st.one_of(st.characters(), st.sampled_from(_REFUSED + "\xa0\u200b\u3000 ")),
        max_size=20,
    )
)
def test_printable_check_refuses_exactly_the_control_characters(value: str) -> None:
    """The fast path for printable text refuses and keeps exactly what the pattern search does."""
    assert _CONTROL.pattern == "[\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\ufeff]"
    found = re.search(_CONTROL.pattern, value)
    if found is None:
        assert value == _refuse_control(value)
    else:
        try:
            _refuse_control(value)
        except ValueError as error:
            assert f"U+{ord(found.group()):04X} at position {found.start()}" in str(error)
        else:
            raise AssertionError(f"{value!r} was not refused")
