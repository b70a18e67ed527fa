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

    def lag(self, partitions: list[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """``{(topic, partition): lag}``; a partition with no committed offset counts from its start."""
        if not partitions:
            return {}
        admin, consumer = self._clients()
        tps = [TopicPartition(t, p) for t, p in partitions]
        ends = consumer.end_offsets(tps)
        begins = consumer.beginning_offsets(tps)
        committed = admin.list_consumer_group_offsets(self.group_id)
        out = {}
        for tp in tps:
            meta = committed.get(tp)
            done = meta.offset if meta is not None and meta.offset >= 0 else begins.get(tp, 0)
            out[(tp.topic, tp.partition)] = max(0, ends.get(tp, 0) - done)
        return out

    def close(self) -> None:
        for c in (self._admin, self._consumer):
            if c is not None:
                c.close()
        self._admin = self._consumer = None
