"""The table value of a case: round trip and the memory a stored row holds."""

from __future__ import annotations

import tracemalloc

from streams.case_row import CaseRow, decode_row, encode_row

ROW: CaseRow = {"p": 3, "due": 1_795_000_000.5, "open": ["first_response"], "near": [],
                "s": {"case_id": "C-1", "kind": "complaint", "clocks": {}}}  # fmt: skip


class TestCaseRow:
    def test_round_trip(self) -> None:
        assert ROW == decode_row(encode_row(ROW))

    def test_a_stored_row_holds_about_its_own_length(self) -> None:
        """A thousand stored rows of ~150 bytes hold well under 1 KiB each (orjson's own
        buffer is 4 KiB a row)."""
        length = len(encode_row(ROW))
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            rows = [encode_row(ROW) for _ in range(1_000)]
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert 1_000 == len(rows)
        assert held / 1_000 < length + 200, f"{held / 1_000:.0f} bytes per {length}-byte row"
