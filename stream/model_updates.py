"""The ``model-updates`` topic: the trainer announces each published model, every worker follows it.

A compacted, single-partition topic keyed ``model``: its latest message is the model to serve. Workers read
it as a broadcast (assigned partition, no consumer group), so every worker sees every announcement.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, Mapping

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from stream.records import encode_model_update

log = logging.getLogger("streamrec.model_updates")
KEY = b"model"


@dataclass(frozen=True)
class ModelAnnouncement:
    """One ``model-updates`` message."""

    version: str
    created_at: float
    checkpoint: str
    window: Mapping[str, Any]
    metrics: Mapping[str, Any]

    @classmethod
    def decode(cls, raw: bytes) -> "ModelAnnouncement":
        obj = json.loads(raw)
        return cls(obj["version"], float(obj["created_at"]), obj["checkpoint"], obj.get("window", {}), obj.get("metrics", {}))


def announce(bootstrap: str, topic: str, ann: ModelAnnouncement) -> None:
    """Publish an announcement (acks=all) and wait for it."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        value = encode_model_update(ann.version, ann.created_at, ann.window, ann.metrics, ann.checkpoint)
        producer.send(topic, key=KEY, value=value).get(timeout=30)
    finally:
        producer.close(timeout=10)


def latest_announcement(bootstrap: str, topic: str, timeout_s: float = 15.0) -> ModelAnnouncement | None:
    """The newest announcement on the model topic (``None`` if there is none), read up to its end offset.

    Unlike a single :meth:`ModelWatcher.poll`, it cannot mistake a slow first fetch for an empty topic.
    """
    import time

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        consumer.assign([tp])
        consumer.seek_to_beginning(tp)
        end = consumer.end_offsets([tp])[tp]
        newest = None
        deadline = time.monotonic() + timeout_s
        while consumer.position(tp) < end:
            if time.monotonic() > deadline:
                raise TimeoutError(f"read {consumer.position(tp)} of {end} messages of {topic!r} in {timeout_s} s")
            for r in consumer.poll(timeout_ms=200).get(tp, []):
                try:
                    newest = ModelAnnouncement.decode(r.value)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("ignoring a bad model announcement at offset %d: %s", r.offset, exc)
        return newest
    finally:
        consumer.close()


class ModelWatcher:
    """Polls the model topic for announcements newer than the last one seen (blocking; run in a thread)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._consumer: KafkaConsumer | None = None

    def poll(self, timeout_ms: int = 200) -> ModelAnnouncement | None:
        """The newest announcement since the previous poll (None if nothing new)."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
            tp = TopicPartition(self.topic, 0)
            self._consumer.assign([tp])
            self._consumer.seek_to_beginning(tp)
        newest = None
        while True:
            batch = self._consumer.poll(timeout_ms=timeout_ms)
            records = [r for rs in batch.values() for r in rs]
            if not records:
                return newest
            for r in records:
                try:
                    newest = ModelAnnouncement.decode(r.value)
                except (ValueError, KeyError, TypeError) as exc:
                    log.warning("ignoring a bad model announcement at offset %d: %s", r.offset, exc)

    def close(self) -> None:
        if self._consumer is not None:
            self._consumer.close()
            self._consumer = None
