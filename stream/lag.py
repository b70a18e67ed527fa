"""Consumer lag as Kafka defines it: log-end offset minus the group's committed offset, per partition.

Long-lived kafka-python clients, called from a worker thread (blocking I/O stays off the event loop).
"""
from __future__ import annotations

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


class LagProbe:
    """Reads end offsets and a group's committed offsets for a set of partitions."""

    def __init__(self, bootstrap: str, group_id: str) -> None:
        self.bootstrap = bootstrap
        self.group_id = group_id
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def _clients(self) -> tuple[KafkaAdminClient, KafkaConsumer]:
        if self._admin is None or self._consumer is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap, client_id=f"{self.group_id}-lag")
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        return self._admin, self._consumer

    def committed(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The group's committed offset per partition (-1 where it never committed)."""
        if not partitions:
            return {}
        admin, _ = self._clients()
        tps = [TopicPartition(t, p) for t, p in partitions]
        got = admin.list_group_offsets({self.group_id: tps}).get(self.group_id, {})
        out = {}
        for tp in tps:
            meta = got.get(tp)
            out[(tp.topic, tp.partition)] = meta.offset if meta is not None and meta.offset is not None else -1
        return out

    def lag(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """``{(topic, partition): lag}``; a partition with no committed offset counts from its start."""
        if not partitions:
            return {}
        _, consumer = self._clients()
        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        committed = self.committed(partitions)
        out = {}
        for tp in tps:
            done = committed[(tp.topic, tp.partition)]
            if done < 0:
                done = begins.get(tp, 0)
            out[(tp.topic, tp.partition)] = max(0, ends.get(tp, 0) - done)
        return out

    def close(self) -> None:
        for c in (self._admin, self._consumer):
            if c is not None:
                c.close()
        self._admin = self._consumer = None
