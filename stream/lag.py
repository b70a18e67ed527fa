"""Offsets and consumer lag as Kafka defines it: log-end offset minus the group's committed offset.

One implementation for every reader: the worker's metrics timer holds a :class:`LagProbe` (one long-lived
admin client, called from a thread so blocking I/O stays off the event loop), and
:func:`stream.kafka_local.consumer_lag` opens one per call. This is kafka-exporter's
``kafka_consumergroup_lag``.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, TypeVar

from kafka import KafkaAdminClient, TopicPartition

T = TypeVar("T")
Partition = tuple[str, int]


def backlog(ends: Mapping[Partition, int], committed: Mapping[Partition, int], starts: Mapping[Partition, int]) -> dict[Partition, int]:
    """Per partition, the messages the group still has to read.

    A partition the group never committed (absent, or negative) counts from its log-start offset: what a
    consumer starting from the earliest offset still has to read, so a group that has not started shows
    the whole backlog.

    >>> backlog({("t", 0): 25, ("t", 1): 15}, {("t", 0): 10}, {("t", 0): 0, ("t", 1): 3})
    {('t', 0): 15, ('t', 1): 12}
    """
    out = {}
    for tp, end in ends.items():
        done = committed.get(tp, -1)
        if done is None or done < 0:
            done = starts.get(tp, 0)
        out[tp] = max(0, end - done)
    return out


def retry_retriable(call: Callable[[], T], timeout_s: float) -> T:
    """``call()``, retried on Kafka's retriable errors (coordinator or leader moving, loading) for ``timeout_s``.

    The first group request on a fresh broker creates ``__consumer_offsets`` and answers "coordinator not
    available" until it exists.
    """
    import kafka.errors as errors

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            return call()
        except errors.KafkaError as exc:
            if not getattr(exc, "retriable", False) or time.monotonic() >= deadline:
                raise
            time.sleep(0.2)


def topic_partitions(admin: KafkaAdminClient, topic: str) -> list[int]:
    """The partition numbers of ``topic`` (raises the broker's error if it does not exist)."""
    [described] = admin.describe_topics([topic])
    if described.get("error_code"):
        import kafka.errors as errors

        raise errors.for_code(described["error_code"])(f"topic {topic!r}")
    return sorted(p["partition_index"] for p in described["partitions"])


def partition_offsets(admin: KafkaAdminClient, partitions: Iterable[Partition], spec: int) -> dict[Partition, int]:
    """``{(topic, partition): offset}`` for an ``OffsetSpec`` (``LATEST`` = log end, ``EARLIEST`` = log start)."""
    tps = {TopicPartition(t, p): spec for t, p in partitions}
    if not tps:
        return {}
    found = admin.list_partition_offsets(tps)
    return {(tp.topic, tp.partition): found[tp].offset for tp in found}


class LagProbe:
    """A group's committed offsets and lag, through one long-lived admin client (opened on first use).

    >>> probe = LagProbe("127.0.0.1:1", "my-group")  # connects lazily: nothing happens yet
    >>> probe.close()
    """

    def __init__(self, bootstrap: str, group_id: str, timeout_s: float = 10.0) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self.timeout_s = timeout_s
        self._admin: KafkaAdminClient | None = None

    def __enter__(self) -> "LagProbe":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    def admin(self) -> KafkaAdminClient:
        if self._admin is None:
            ms = int(self.timeout_s * 1000)
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.group_id}-lag",
                                           request_timeout_ms=ms, bootstrap_timeout_ms=ms)
        return self._admin

    def committed(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """The group's committed offset per partition (-1 where it never committed)."""
        tps = [TopicPartition(t, p) for t, p in partitions]
        if not tps:
            return {}
        got = retry_retriable(lambda: self.admin.list_group_offsets({self.group_id: tps}), self.timeout_s)
        got = got.get(self.group_id, {})
        out = {}
        for tp in tps:
            meta = got.get(tp)
            out[(tp.topic, tp.partition)] = meta.offset if meta is not None and meta.offset is not None else -1
        return out

    def lag(self, partitions: Iterable[Partition]) -> dict[Partition, int]:
        """``{(topic, partition): lag}`` (see :func:`backlog`)."""
        from kafka.admin import OffsetSpec

        partitions = list(partitions)
        if not partitions:
            return {}
        ends = partition_offsets(self.admin, partitions, OffsetSpec.LATEST)
        committed = self.committed(partitions)
        never = [tp for tp in partitions if committed[tp] < 0]
        starts = partition_offsets(self.admin, never, OffsetSpec.EARLIEST)
        return backlog(ends, committed, starts)

    def topic_lag(self, topic: str) -> dict[int, int]:
        """``{partition: lag}`` for every partition of ``topic``."""
        lags = self.lag((topic, p) for p in topic_partitions(self.admin, topic))
        return {p: lag for (_, p), lag in sorted(lags.items())}

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
        self._admin = None
