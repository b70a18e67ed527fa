"""Read topics with kafka-python: recommendation lists for ``streamrec tail``, tests and benchmarks.

Bounded by design: every iterator stops after ``timeout_s`` seconds without a new message (None = never),
and closes its consumer when the loop ends or breaks.
"""
from __future__ import annotations

import logging
import time
from typing import Any, Iterator

from stream.records import Recommendation
from stream.settings import Settings

log = logging.getLogger(__name__)


class ConsumeError(RuntimeError):
    """The broker could not be reached, with what to do about it."""


def iter_records(
    settings: Settings,
    topic: str,
    group_id: str | None = None,
    from_beginning: bool = True,
    timeout_s: float | None = None,
    connect_timeout_s: float = 10.0,
    **overrides: Any,
) -> Iterator[Any]:
    """Yield ``kafka.consumer.fetcher.ConsumerRecord`` of ``topic``, partition by partition in offset order.

    ``group_id`` None reads every partition without a consumer group (nothing committed); with a group,
    offsets are committed automatically. ``from_beginning`` picks ``earliest`` (else ``latest``) when the
    group has no committed offset. Stops after ``timeout_s`` idle seconds.
    """
    from kafka import KafkaConsumer
    from kafka.errors import KafkaError

    try:
        consumer = KafkaConsumer(
            topic,
            bootstrap_servers=settings.bootstrap.split(","),
            client_id="streamrec-consumer",
            group_id=group_id,
            auto_offset_reset="earliest" if from_beginning else "latest",
            enable_auto_commit=group_id is not None,
            bootstrap_timeout_ms=int(connect_timeout_s * 1000),
            **overrides,
        )
    except KafkaError as exc:
        raise ConsumeError(
            f"cannot reach Kafka at {settings.bootstrap!r} ({exc}). Is a broker running? "
            "Start one with `streamrec kafka start`, or pass --bootstrap / set STREAMREC_BOOTSTRAP."
        ) from exc
    try:
        last = time.monotonic()
        while True:
            wait = 0.5 if timeout_s is None else max(0.0, min(0.5, last + timeout_s - time.monotonic()))
            batches = consumer.poll(timeout_ms=int(wait * 1000))
            for records in batches.values():
                yield from records
            if any(batches.values()):
                last = time.monotonic()
            elif timeout_s is not None and time.monotonic() - last >= timeout_s:
                return
    finally:
        consumer.close()


def iter_recommendations(
    settings: Settings,
    group_id: str | None = None,
    from_beginning: bool = True,
    timeout_s: float | None = None,
) -> Iterator[Recommendation]:
    """Yield decoded messages of ``settings.output_topic``; undecodable ones are logged and skipped."""
    for record in iter_records(settings, settings.output_topic, group_id, from_beginning, timeout_s):
        try:
            yield Recommendation.decode(record.value)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping bad recommendation at %s[%d]@%d: %s", record.topic, record.partition,
                        record.offset, exc)
