"""Prometheus metrics of one worker, named as ARCHITECTURE.md promises (prefix ``streamrec_``, base units).

One :class:`WorkerMetrics` owns its own registry, so two workers in one process (tests) never collide
and ``GET /metrics`` shows exactly this worker. No per-user labels.
"""
from __future__ import annotations

import time

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest

from stream.processor import BatchResult

disable_created_metrics()  # the *_created series only add noise to every scrape

#: Event-to-recommendation latency buckets, seconds (micro-batches: milliseconds to a few seconds).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class WorkerMetrics:
    """The metrics a worker exports on ``/metrics``."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, k: int = 10) -> None:
        from river.drift import ADWIN

        self.k = k
        self._hit_rate = ADWIN()  # the hit rate over an adaptive window: recent, and reset by drift
        r = self.registry = CollectorRegistry()
        self.consumer_lag = Gauge("streamrec_consumer_lag", "Messages behind the log end (committed offset).", ["topic", "partition"], registry=r)
        self.consumer_lag_seconds = Gauge(
            "streamrec_consumer_lag_seconds", "Age of the last processed message while behind, else 0.", ["topic", "partition"], registry=r
        )
        self.events_processed = Counter("streamrec_events_processed", "Accepted events applied to the graph.", registry=r)
        self.events_rejected = Counter("streamrec_events_rejected", "Events sent to the DLQ, by reason.", ["reason"], registry=r)
        self.events_duplicate = Counter("streamrec_events_duplicate", "Events whose event_id was already applied.", registry=r)
        self.events_redelivered = Counter("streamrec_events_redelivered", "Messages re-read after a restart (not re-applied).", registry=r)
        self.events_late = Counter("streamrec_events_late", "Events older than the user's latest by more than the lateness (still applied).", registry=r)
        self.recommendations_emitted = Counter("streamrec_recommendations_emitted", "Recommendation messages produced.", registry=r)
        self.latency = Histogram(
            "streamrec_event_to_recommendation_seconds", "Event consumed to its list produced.", buckets=LATENCY_BUCKETS, registry=r
        )
        self.graph_nodes = Gauge("streamrec_graph_nodes", "Nodes in this worker's graph.", ["kind"], registry=r)
        self.graph_edges = Gauge("streamrec_graph_edges", "Distinct (user, item) edges in this worker's graph.", registry=r)
        self.model_info = Gauge("streamrec_model_info", "The serving model version (value 1).", ["version"], registry=r)
        self.model_age_seconds = Gauge("streamrec_model_age_seconds", "Seconds since the serving model was created.", registry=r)
        self.train_loss = Gauge("streamrec_train_loss", "Loss of the last (fine-)training run.", registry=r)
        self.finetune_duration = Gauge("streamrec_finetune_duration_seconds", "Duration of the last fine-tune.", registry=r)
        self.online_hit_rate = Gauge("streamrec_online_hit_rate", "Share of events whose item was in the user's previous list.", ["k"], registry=r)
        self._model_created_at = time.time()
        self._version: str | None = None

    def record_batch(self, result: BatchResult, consumed_at: float, produced_at: float) -> None:
        """Count one processed micro-batch (after its messages were delivered)."""
        self.events_processed.inc(result.applied)
        self.events_duplicate.inc(result.duplicates)
        self.events_redelivered.inc(result.redelivered)
        self.events_late.inc(result.late)
        for reason, n in result.rejected.items():
            self.events_rejected.labels(reason=reason).inc(n)
        n = len(result.recommendations)
        self.recommendations_emitted.inc(n)
        for _ in range(n):
            self.latency.observe(max(0.0, produced_at - consumed_at))
        for hit in result.hits:
            self._hit_rate.update(float(hit))
        if result.hits:
            self.online_hit_rate.labels(k=str(self.k)).set(self._hit_rate.estimation)

    def set_training(self, metrics: dict) -> None:
        """Figures of the trainer's last run, as announced with the model."""
        if "train_loss" in metrics:
            self.train_loss.set(float(metrics["train_loss"]))
        if "finetune_duration_s" in metrics:
            self.finetune_duration.set(float(metrics["finetune_duration_s"]))

    def set_graph(self, users: int, items: int, edges: int) -> None:
        self.graph_nodes.labels(kind="user").set(users)
        self.graph_nodes.labels(kind="item").set(items)
        self.graph_edges.set(edges)

    def set_model(self, version: str, created_at: float) -> None:
        if self._version is not None:
            self.model_info.remove(self._version)
        self._version = version
        self._model_created_at = created_at
        self.model_info.labels(version=version).set(1)

    def tick(self, now: float | None = None) -> None:
        """Refresh time-derived gauges."""
        self.model_age_seconds.set(max(0.0, (now or time.time()) - self._model_created_at))

    def set_lag(self, topic: str, partition: int, lag: int, seconds: float) -> None:
        self.consumer_lag.labels(topic=topic, partition=str(partition)).set(lag)
        self.consumer_lag_seconds.labels(topic=topic, partition=str(partition)).set(seconds)

    def drop_lag(self, topic: str, partition: int) -> None:
        """Forget a partition this worker no longer owns (so sums across workers stay right)."""
        for g in (self.consumer_lag, self.consumer_lag_seconds):
            try:
                g.remove(topic, str(partition))
            except KeyError:
                pass

    def render(self) -> bytes:
        return generate_latest(self.registry)
