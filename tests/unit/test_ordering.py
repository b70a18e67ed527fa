"""stream.ordering: a fetch's partitions interleaved by record timestamp, each partition kept in order."""
from __future__ import annotations

import random
from collections import namedtuple

from faust.types import TP

from stream.ordering import TimestampOrderScheduler, merge_by_timestamp

Record = namedtuple("Record", "offset timestamp")


def fetch(seed: int, partitions: int = 4, n: int = 50) -> dict:
    rng = random.Random(seed)
    out = {}
    for p in range(partitions):
        ts = sorted(rng.randrange(0, 1000) for _ in range(n - p * 5))  # runs of different lengths and extents
        out[TP("interactions", p)] = [Record(o, t) for o, t in enumerate(ts)]
    return out


def test_records_come_in_timestamp_order_and_every_one_exactly_once():
    records = fetch(1)
    merged = list(merge_by_timestamp(records))
    assert sorted((tp, r.offset) for tp, r in merged) == sorted((tp, r.offset) for tp, rs in records.items() for r in rs)
    stamps = [r.timestamp for _, r in merged]
    assert stamps == sorted(stamps)


def test_each_partition_keeps_its_offset_order_even_when_its_timestamps_go_back():
    records = {"a": [Record(0, 50), Record(1, 10), Record(2, 60)], "b": [Record(0, 20), Record(1, 55)]}
    merged = [(tp, r.offset) for tp, r in merge_by_timestamp(records)]
    for tp in records:
        offsets = [o for t, o in merged if t == tp]
        assert offsets == sorted(offsets)
    assert merged == [("b", 0), ("a", 0), ("a", 1), ("b", 1), ("a", 2)]


def test_faust_scheduler_delivers_the_merge():
    records = fetch(2)
    got = [(tp, r.offset) for tp, r in TimestampOrderScheduler().iterate(records)]
    assert got == [(tp, r.offset) for tp, r in merge_by_timestamp(records)]
    # Faust's own default goes round-robin: it does not order the fetch by time
    from faust.transport.utils import DefaultSchedulingStrategy

    rr = [r.timestamp for _, r in DefaultSchedulingStrategy().iterate(records)]
    assert rr != sorted(rr)
