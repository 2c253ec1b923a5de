"""The canonical event model: reading its attributes without ``model_dump``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sla.events import Attributes, set_attributes

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
