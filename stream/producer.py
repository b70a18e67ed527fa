"""Write interaction events to Kafka fast and in order: the producer behind ``streamrec produce``, the demo
and the benchmarks.

Messages are keyed by user id (:func:`stream.records.encode_key`), so one user's events land on one
partition in the order they were sent; the idempotent producer with ``acks="all"`` keeps that order through
retries. Batching (``linger_ms``, ``batch_size``) trades a few milliseconds of latency for throughput.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Iterable

from graph_store.events import Interaction
from stream.records import encode_event, encode_key
from stream.settings import Settings


class ProduceError(RuntimeError):
    """Producing failed as a whole (broker unreachable, topic not creatable), with what to do about it."""


@dataclass
class ProduceStats:
    """What a run sent: delivered (acknowledged) and failed counts, wall time, and the first failure."""

    sent: int = 0
    failed: int = 0
    seconds: float = 0.0
    first_error: str | None = None
    interrupted: bool = False

    @property
    def rate(self) -> float:
        """Acknowledged events per second of wall time."""
        return self.sent / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """One line for people.

        >>> ProduceStats(sent=1000, failed=0, seconds=2.0).summary()
        'sent 1,000 events, 0 failed, in 2.00 s (500 events/s)'
        """
        text = f"sent {self.sent:,} events, {self.failed:,} failed, in {self.seconds:.2f} s ({self.rate:,.0f} events/s)"
        if self.interrupted:
            text += ", interrupted"
        if self.first_error:
            text += f"; first error: {self.first_error}"
        return text


def _unreachable(bootstrap: str, exc: BaseException) -> ProduceError:
    return ProduceError(
        f"cannot reach Kafka at {bootstrap!r} ({exc}). Is a broker running? "
        "Start one with `streamrec kafka start`, or pass --bootstrap / set STREAMREC_BOOTSTRAP."
    )


def make_producer(settings: Settings, connect_timeout_s: float = 10.0, linger_ms: int = 10,
                  batch_size: int = 256 * 1024, **overrides: Any):  # -> kafka.KafkaProducer
    """A kafka-python producer for ``settings.bootstrap``: ``acks="all"``, idempotent, batched.

    Raises :class:`ProduceError` when no broker answers within ``connect_timeout_s``.
    """
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    config: dict[str, Any] = dict(
        bootstrap_servers=settings.bootstrap.split(","),
        client_id="streamrec-producer",
        acks="all",
        enable_idempotence=True,
        linger_ms=linger_ms,
        batch_size=batch_size,
        max_request_size=max(settings.max_message_bytes * 2, 1024 * 1024),
        bootstrap_timeout_ms=int(connect_timeout_s * 1000),
        max_block_ms=int(max(connect_timeout_s, 10.0) * 1000),
    )
    config.update(overrides)
    try:
        return KafkaProducer(**config)
    except KafkaError as exc:
        raise _unreachable(settings.bootstrap, exc) from exc


def ensure_topic(settings: Settings, topic: str | None = None, timeout_s: float = 30.0) -> bool:
    """Create ``topic`` (default ``settings.input_topic``) with ``settings.partitions`` if missing.

    Returns True when it was created now. Existing topics are left as they are.
    """
    from kafka.errors import KafkaError

    from stream.kafka_local import create_topics

    name = topic or settings.input_topic
    try:
        return name in create_topics(settings.bootstrap, {name: settings.partitions}, timeout_s=timeout_s)
    except KafkaError as exc:
        raise _unreachable(settings.bootstrap, exc) from exc


def produce_events(
    events: Iterable[Interaction],
    settings: Settings,
    rate: float | None = None,
    progress: bool = False,
    total: int | None = None,
    *,
    producer: Any = None,
    flush_timeout_s: float = 120.0,
) -> ProduceStats:
    """Send ``events`` to ``settings.input_topic``, keyed by user; return counts once all are acknowledged.

    ``rate`` caps the send rate (events per second; None = as fast as possible). ``progress`` shows a tqdm
    bar with events/s on stderr (``total`` sizes it). A failed delivery is counted, not raised; a broker that
    cannot be reached at all raises :class:`ProduceError`. Ctrl-C stops sending, flushes what was sent and
    returns with ``interrupted`` set.
    """
    from kafka.errors import KafkaError, KafkaTimeoutError
    from tqdm import tqdm

    own = producer is None
    producer = producer or make_producer(settings)
    topic = settings.input_topic
    stats = ProduceStats()
    lock = threading.Lock()

    # Delivery callbacks run on the producer's I/O thread, failures of send() on this one.
    def delivered(_meta: Any) -> None:
        with lock:
            stats.sent += 1

    def failed(exc: BaseException) -> None:
        with lock:
            stats.failed += 1
            if stats.first_error is None:
                stats.first_error = f"{type(exc).__name__}: {exc}"

    bar = tqdm(total=total, unit="ev", unit_scale=True, desc=f"produce -> {topic}", disable=not progress,
               file=sys.stderr, mininterval=0.5, smoothing=0.1)
    start = time.perf_counter()
    n = 0
    shown = 0
    try:
        for ev in events:
            if rate:
                ahead = start + n / rate - time.perf_counter()
                if ahead > 0:
                    time.sleep(ahead)
            try:
                future = producer.send(topic, key=encode_key(ev.user_id), value=encode_event(ev))
            except KafkaTimeoutError as exc:  # metadata never came: the broker is gone
                raise _unreachable(settings.bootstrap, exc) from exc
            except KafkaError as exc:  # e.g. a message over the size limit: count it, go on
                failed(exc)
            else:
                future.add_callback(delivered)
                future.add_errback(failed)
            n += 1
            if n - shown >= 256:
                bar.update(n - shown)
                shown = n
    except KeyboardInterrupt:
        stats.interrupted = True
    except ProduceError:  # the broker is gone: nothing to flush to
        bar.close()
        if own:
            producer.close(timeout=1)
        raise
    except BaseException:  # e.g. a bad line in the file: deliver what was sent before it, then raise
        bar.close()
        try:
            producer.flush(timeout=flush_timeout_s)
        finally:
            if own:
                producer.close(timeout=10)
        raise
    bar.update(n - shown)
    try:
        producer.flush(timeout=flush_timeout_s)
    except KafkaError as exc:
        failed(exc)
    finally:
        stats.seconds = time.perf_counter() - start
        bar.close()
        if own:
            producer.close(timeout=10)
    # Sends that flush could not confirm within its timeout are neither delivered nor failed yet.
    stats.failed += max(0, n - stats.sent - stats.failed)
    return stats


def produce_raw(values: Iterable[bytes], settings: Settings, key: bytes = b"raw") -> int:
    """Send raw value bytes as they are (e.g. malformed events, to exercise the dead-letter path)."""
    producer = make_producer(settings)
    try:
        for value in values:
            producer.send(settings.input_topic, key=key, value=value)
        producer.flush(timeout=60)
    finally:
        producer.close(timeout=10)
    return len(values) if hasattr(values, "__len__") else -1
