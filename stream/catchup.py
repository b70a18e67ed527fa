"""State that moves with partitions: rebuild a partition's graph state from the input topic itself.

When a worker is assigned a partition, its local store may be behind the group's committed offset (the
partition lived on another worker, or this worker's disk is new). The input topic is the changelog: the
worker re-reads ``[watermark + 1, committed)`` and applies those events (no answers: they were answered by
the previous owner) before it consumes anything new. The store's per-partition watermark makes this
idempotent. Cost: one read of the partition's retained history; keep retention >= the state you need.
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

from kafka import KafkaConsumer, TopicPartition

from graph_store.events import Interaction
from stream.records import EventLimits, InvalidEvent, assigned_event_id, parse_event

log = logging.getLogger("streamrec.catchup")


def replay_partition(
    bootstrap: str,
    topic: str,
    partition: int,
    start: int,
    stop: int,
    apply: Callable[[list[Interaction], list[int]], None],
    limits: EventLimits = EventLimits(),
    chunk: int = 500,
    timeout_s: float = 300.0,
) -> int:
    """Apply the valid events of ``topic[partition]`` at offsets ``[start, stop)``; returns how many were read."""
    if stop <= start:
        return 0
    tp = TopicPartition(topic, partition)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, max_poll_records=chunk)
    read = 0
    try:
        consumer.assign([tp])
        consumer.seek(tp, max(start, consumer.beginning_offsets([tp])[tp]))
        import time

        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < stop:
            if time.monotonic() > deadline:
                raise TimeoutError(f"catch-up of {topic}[{partition}] stalled at {consumer.position(tp)} < {stop}")
            events, offsets = [], []
            for msg in consumer.poll(timeout_ms=1000).get(tp, []):
                if msg.offset >= stop:
                    break
                read += 1
                try:
                    ev = parse_event(msg.value, limits)
                except InvalidEvent:
                    continue  # dead-lettered by the previous owner
                if ev.event_id is None:
                    ev = Interaction(ev.user_id, ev.item_id, ev.ts, ev.event_type, ev.weight, assigned_event_id(topic, partition, msg.offset), ev.attrs)
                events.append(ev)
                offsets.append(msg.offset)
            if events:
                apply(events, offsets)
    finally:
        consumer.close()
    log.info("caught up %s[%d]: %d messages [%d, %d)", topic, partition, read, start, stop)
    return read
