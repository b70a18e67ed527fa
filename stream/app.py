"""The Faust app: topics, the ``ingest_interactions`` agent, timers and the web views.

Everything here is an adapter: the agent loops over micro-batches and calls
:class:`stream.processor.EventProcessor`; views only read. Build it with :func:`create_app`.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import faust
from faust.web import Request, Response, View

from graph_store import open_store
from stream.catchup import replay_partition
from stream.lag import LagProbe
from stream.metrics import WorkerMetrics
from stream.model_updates import ModelWatcher
from stream.ordering import TimestampOrderScheduler
from stream.processor import EventProcessor, HeuristicScorer, RawMessage
from stream.records import EventLimits
from stream.settings import Settings

log = logging.getLogger("streamrec.worker")


@dataclass
class WorkerState:
    """What the agent, timers and views share inside one worker process."""

    settings: Settings
    store: Any
    processor: EventProcessor
    metrics: WorkerMetrics
    lag_probe: LagProbe
    started_at: float = field(default_factory=time.time)
    #: (topic, partition) -> (last offset, its timestamp) processed by this worker.
    positions: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)
    batches: int = 0
    #: Held while the store is written: by the agent per batch, by a catch-up replay per partition.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    caught_up: int = 0


def build_scorer(settings: Settings, store: Any):
    """The serving model chosen by ``settings.model``."""
    if settings.model == "heuristic":
        return HeuristicScorer(store)
    if settings.model == "tgn":
        from stream.tgn_serving import TGNScorer  # torch only when asked for

        return TGNScorer.from_settings(settings, store)
    raise ValueError(f"unknown model {settings.model!r} (heuristic or tgn)")


def create_app(settings: Settings) -> tuple[faust.App, WorkerState]:
    """A configured Faust app with its worker state (graph store opened under ``settings.data_dir``)."""
    from graph_store import GraphConfig

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = open_store(settings.data_dir / "graph", GraphConfig(popularity_tau=settings.popularity_tau_s))
    scorer = build_scorer(settings, store)
    limits = EventLimits(max_message_bytes=settings.max_message_bytes)
    state = WorkerState(
        settings=settings,
        store=store,
        processor=EventProcessor(store, scorer, k=settings.k, lateness_s=settings.lateness_s, limits=limits),
        metrics=WorkerMetrics(k=settings.k),
        lag_probe=LagProbe(settings.bootstrap, settings.app_id),
    )
    state.metrics.set_model(scorer.model_version, getattr(scorer, "created_at", time.time()))

    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{b.strip()}" for b in settings.bootstrap.split(",")],
        key_serializer="raw",
        value_serializer="raw",
        web_host=settings.web_host,
        web_port=settings.web_port,
        web_enabled=True,
        datadir=str(settings.data_dir / "faust"),
        topic_replication_factor=1,
        topic_partitions=settings.partitions,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        broker_commit_interval=1.0,
        # A crashed worker's partitions move after this long (Faust's default is 60 s); heartbeats run on
        # the consumer's own thread, so model work on the agent's loop does not starve them.
        broker_session_timeout=15.0,
        broker_heartbeat_interval=3.0,
        stream_wait_empty=False,
        # Each fetch in timestamp order across partitions, not round-robin (see stream/ordering.py).
        ConsumerScheduler=TimestampOrderScheduler,
    )
    interactions_topic = app.topic(settings.input_topic, key_type=bytes, value_type=bytes, internal=False)

    @app.agent(interactions_topic, name="ingest_interactions")
    async def ingest_interactions(stream: faust.StreamT) -> None:
        """Micro-batches in; one recommendation per accepted event out; bad events to the DLQ."""
        async for events in stream.take_events(settings.batch_size, within=settings.batch_timeout_s):
            consumed_at = time.time()
            batch = [
                RawMessage(m.topic, m.partition, m.offset, m.value, (m.timestamp or 0.0), m.key)
                for m in (e.message for e in events)
            ]
            async with state.lock:
                result = state.processor.process(batch)
            # Straight to the producer (not Faust's per-message Topic.send buffer): a batch is many messages.
            send = app.producer.send
            pending = [await send(settings.output_topic, k, v, None, None, None) for k, v in result.recommendations]
            pending += [await send(settings.dlq_topic, k, v, None, None, None) for k, v in result.dlq]
            # Deliveries confirmed before take_events acks the inputs: nothing acked is lost.
            await asyncio.gather(*pending)
            state.metrics.record_batch(result, consumed_at, time.time())
            state.positions.update(result.positions)
            state.batches += 1

    @app.timer(interval=2.0)
    async def refresh_metrics() -> None:
        """Graph sizes, model age and consumer lag of the partitions this worker owns."""
        counts = state.store.counts()
        state.metrics.set_graph(counts.users, counts.items, counts.edges)
        state.metrics.tick()
        owned = sorted((tp.topic, tp.partition) for tp in app.consumer.assignment() if tp.topic == settings.input_topic)
        try:
            lags = await asyncio.get_running_loop().run_in_executor(None, state.lag_probe.lag, owned)
        except Exception as exc:  # the broker may be briefly away; lag is reported on the next tick
            log.warning("lag probe failed: %s", exc)
            return
        now = time.time()
        for (topic, partition), lag in lags.items():
            last = state.positions.get((topic, partition))
            seconds = max(0.0, now - last[1]) if (lag > 0 and last) else 0.0
            state.metrics.set_lag(topic, partition, lag, seconds)

    if settings.model == "tgn":
        watcher = ModelWatcher(settings.bootstrap, settings.model_topic)

        @app.timer(interval=2.0)
        async def follow_models() -> None:
            """Hot-swap to each model the trainer announces, without pausing consumption for long."""
            loop = asyncio.get_running_loop()
            try:
                ann = await loop.run_in_executor(None, watcher.poll)
            except Exception as exc:
                log.warning("model topic poll failed: %s", exc)
                return
            scorer = state.processor.scorer
            if ann is None or ann.version == scorer.model_version:
                return
            async with state.lock:
                try:
                    await loop.run_in_executor(None, scorer.load, ann.checkpoint, dict(ann.metrics))
                except Exception as exc:  # a bad or missing checkpoint must not stop serving
                    log.error("could not load model %s from %s: %s", ann.version, ann.checkpoint, exc)
                    return
            state.metrics.set_model(ann.version, ann.created_at)
            state.metrics.set_training(dict(ann.metrics))

    @app.on_partitions_assigned.connect
    async def catch_up(app_: faust.App, assigned: set, **kwargs: Any) -> None:
        """Rebuild state of partitions whose history this worker has not applied (they moved here)."""
        owned = sorted((tp.topic, tp.partition) for tp in assigned if tp.topic == settings.input_topic)
        if not owned:
            return
        loop = asyncio.get_running_loop()
        committed = await loop.run_in_executor(None, state.lag_probe.committed, owned)
        for (topic, partition), upto in committed.items():
            start = state.store.watermark(topic, partition) + 1
            if upto <= start:
                continue

            def apply(events: list, offsets: list, source=(topic, partition)) -> None:
                applied = state.store.apply(events, source=source, offsets=offsets)  # committed on return
                state.processor.scorer.observe(events, applied)
                state.processor.scorer.after_commit()

            log.info("partition %s[%d]: local state at offset %d, group at %d: catching up", topic, partition, start, upto)
            async with state.lock:
                state.caught_up += await loop.run_in_executor(
                    None, replay_partition, settings.bootstrap, topic, partition, start, upto, apply, limits
                )

    @app.on_partitions_revoked.connect
    async def on_revoked(app_: faust.App, revoked: set, **kwargs: Any) -> None:
        for tp in revoked:
            state.metrics.drop_lag(tp.topic, tp.partition)

    @app.on_before_shutdown.connect
    async def close_store(app_: faust.App, **kwargs: Any) -> None:
        state.lag_probe.close()
        async with state.lock:  # no batch half-applied while the state is saved
            state.processor.scorer.close()
            state.store.close()

    @app.page("/metrics")
    class MetricsView(View):
        async def get(self, request: Request) -> Response:
            return self.bytes(state.metrics.render(), content_type=state.metrics.content_type.split(";")[0])

    @app.page("/healthz")
    class HealthView(View):
        async def get(self, request: Request) -> Response:
            counts = state.store.counts()
            owned = sorted(tp.partition for tp in app.consumer.assignment() if tp.topic == settings.input_topic)
            return self.json(
                {
                    "status": "ok",
                    "app_id": settings.app_id,
                    "partitions": owned,
                    "batches": state.batches,
                    "caught_up_messages": state.caught_up,
                    "model_version": state.processor.scorer.model_version,
                    # How the TGN's memory was built: "snapshot" (restored + tail replayed), "warm" (newest
                    # events replayed) or null (no TGN loaded yet / heuristic).
                    "model_state": getattr(state.processor.scorer, "restored", None),
                    "graph": {"users": counts.users, "items": counts.items, "edges": counts.edges, "events": counts.events},
                    "uptime_s": round(time.time() - state.started_at, 3),
                }
            )

    @app.page("/recommendations/{user_id}")
    class RecommendationsView(View):
        async def get(self, request: Request, user_id: str) -> Response:
            try:
                k = int(request.query.get("k", settings.k))
            except ValueError:
                return self.json({"error": "k must be an integer"}, status=400)
            k = max(1, min(k, 1000))
            user = state.store.user_index(user_id)
            if user is None:
                return self.json({"error": f"user {user_id!r} is unknown to this worker (its partition may live on another)"}, status=404)
            recent = state.store.user_neighbours(user, 1)
            t = float(recent.ts[0]) if len(recent.ts) else time.time()
            ranked = state.processor.scorer.recommend([user], [t], k)[0]
            return self.json(
                {
                    "user_id": user_id,
                    "items": [{"item_id": state.store.item_id(i), "score": round(float(s), 6)} for i, s in ranked],
                    "k": k,
                    "model_version": state.processor.scorer.model_version,
                    # How the TGN's memory was built: "snapshot" (restored + tail replayed), "warm" (newest
                    # events replayed) or null (no TGN loaded yet / heuristic).
                    "model_state": getattr(state.processor.scorer, "restored", None),
                }
            )

    app.streamrec_state = state  # type: ignore[attr-defined]
    return app, state
