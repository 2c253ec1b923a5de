"""Kafka's default partitioner, as slawatch computes it: the same hash as aiokafka's."""

from __future__ import annotations

from aiokafka.partitioner import murmur2 as aiokafka_murmur2
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.partitioner import murmur2, partition_of


class TestMurmur2:
    @settings(max_examples=2000)
    @given(st.binary(max_size=64))
    def test_the_hash_aiokafka_computes(self, data: bytes) -> None:
        assert aiokafka_murmur2(data) & 0xFFFFFFFF == murmur2(data)

    @given(st.text(max_size=40), st.integers(min_value=1, max_value=64))
    def test_the_partition_the_producer_picks(self, case_id: str, partitions: int) -> None:
        key = case_id.encode()
        assert (aiokafka_murmur2(key) & 0x7FFFFFFF) % partitions == partition_of(
            case_id, partitions
        )

    def test_kafkas_own_reference_values(self) -> None:
        """The values of Kafka's ``UtilsTest.testMurmur2`` (Java ints: signed)."""
        cases = {
            b"21": -973932308,
            b"foobar": -790332482,
            b"a-little-bit-long-string": -985981536,
            b"a-little-bit-longer-string": -1486304829,
            b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
            b"abc": 479470107,
        }
        assert cases == {key: murmur2(key) - ((murmur2(key) >> 31) << 32) for key in cases}
