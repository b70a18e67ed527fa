"""The trainer: follows the whole interaction stream, fine-tunes the TGN periodically, publishes models.

One trainer per deployment (its own consumer group, ``<app_id>-trainer``, reading every partition):

* no checkpoint yet -> it trains a first model on the first ``finetune_every_events`` events;
* then every ``finetune_every_events`` events or ``finetune_every_s`` seconds -- earlier when ADWIN sees the
  online hit rate drop (drift) -- it fine-tunes a copy of the current weights on the recent window,
  validates old and new on the newest slice and publishes only if the new one is not worse;
* publishing = an atomic checkpoint file in ``checkpoint_dir`` plus an announcement on ``model-updates``;
  workers hot-swap to it.

Training load stays off the serving path: workers keep answering while the trainer works.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from graph_store.events import Interaction
from stream.model_updates import ModelAnnouncement, announce
from stream.settings import Settings

log = logging.getLogger("streamrec.trainer")
#: Touched every few seconds in ``checkpoint_dir`` while the trainer loop runs.
HEARTBEAT = "trainer.alive"


@dataclass
class TrainerStats:
    events: int = 0
    published: list[str] = field(default_factory=list)
    finetunes: int = 0


class Trainer:
    """Learns from batches of events (pure of Kafka; :func:`run_trainer` feeds it from the topic)."""

    def __init__(self, settings: Settings, publish: Callable[[ModelAnnouncement], None] | None = None, drift_sample: int = 64) -> None:
        from models.tgn.recommender import TGNRecommender

        self.settings = settings
        self.publish_fn = publish or (lambda ann: announce(settings.bootstrap, settings.model_topic, ann))
        self.drift_sample = drift_sample
        common = dict(finetune_every=settings.finetune_every_events or None, finetune_window=settings.finetune_window,
                      seed=settings.seed, device=settings.device, progress=False)
        if settings.checkpoint:
            self.rec = TGNRecommender.from_checkpoint(settings.checkpoint, store=None, **common)
            self.published = None  # announce the starting model so workers pick it up
        else:
            self.rec = TGNRecommender(epochs=settings.train_epochs, **common)
            self.published = self.rec.version  # "untrained": nothing to announce yet
        self.stats = TrainerStats()
        self._last_finetune = time.monotonic()
        self._since_publish = 0
        self._last_result: dict = {}

    def step(self, events: Sequence[Interaction]) -> str | None:
        """Learn a batch (scoring a sample first, for the drift monitor); returns a version if one was published."""
        rec = self.rec
        if rec.fitted and rec.store.n_items and self.drift_sample:
            sample = events[: self.drift_sample]
            users = [rec.store.user_index(ev.user_id) for ev in sample]
            rec.score_many([-1 if u is None else u for u in users], [ev.ts for ev in sample], rec.store.n_items)
        n_ft = len(rec.finetunes)
        for ev in events:
            rec.learn_event(ev)
        self.stats.events += len(events)
        self._since_publish += len(events)
        if not rec.fitted and rec._n_learned >= max(self.settings.finetune_every_events, 1):
            t0 = time.perf_counter()
            result = rec.fit()
            losses = getattr(result, "losses", None) or [float("nan")]
            self._last_result = {"train_loss": float(losses[-1]), "finetune_duration_s": time.perf_counter() - t0,
                                 "kind": "initial", "events": rec._n_learned}
            self._last_finetune = time.monotonic()
        elif rec.fitted and self.settings.finetune_every_s and self._since_publish and \
                time.monotonic() - self._last_finetune >= self.settings.finetune_every_s and rec.store.counts().events >= 100:
            rec.run_finetune()
        if len(rec.finetunes) > n_ft:
            self.stats.finetunes += len(rec.finetunes) - n_ft
            ft = rec.finetunes[-1]
            self._last_finetune = time.monotonic()
            self._last_result = {"train_loss": ft.train_loss, "finetune_duration_s": ft.duration_s, "val_mrr_new": ft.val_mrr_new,
                                 "val_mrr_old": ft.val_mrr_old, "published": ft.published, "kind": "finetune"}
            log.info("fine-tune: val MRR new %.4f vs old %.4f -> %s", ft.val_mrr_new, ft.val_mrr_old,
                     "published" if ft.published else "kept the serving model")
        if rec.fitted and rec.version != self.published:
            return self.publish()
        return None

    def publish(self) -> str:
        """Write the current model atomically and announce it."""
        rec = self.rec
        self.settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
        path = (self.settings.checkpoint_dir / f"{rec.version}.pt").resolve()
        recent = rec.store.recent_arrays(self.settings.finetune_window)
        window = {"events": int(len(recent[2])), "from_ts": float(recent[2].min()) if len(recent[2]) else None,
                  "to_ts": float(recent[2].max()) if len(recent[2]) else None}
        ckpt = rec.save(str(path), metrics=self._last_result, window=window)
        self.publish_fn(ModelAnnouncement(ckpt.version, ckpt.created_at, str(path), window, self._last_result))
        self.published = rec.version
        self._since_publish = 0
        self.stats.published.append(rec.version)
        log.info("published %s (%s)", rec.version, path)
        return rec.version


def run_trainer(settings: Settings, max_events: int | None = None, idle_exit_s: float | None = None,
                on_publish: Callable[[str], None] | None = None) -> TrainerStats:
    """Consume ``settings.input_topic`` as group ``<app_id>-trainer`` and train until stopped (or a limit)."""
    from kafka import KafkaConsumer

    from stream.records import InvalidEvent, assigned_event_id, parse_event

    trainer = Trainer(settings)
    consumer = KafkaConsumer(settings.input_topic, bootstrap_servers=settings.bootstrap, group_id=f"{settings.app_id}-trainer",
                             enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=max(settings.batch_size, 1))
    last_data = time.monotonic()
    heartbeat = settings.checkpoint_dir / HEARTBEAT
    settings.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    beat = 0.0
    try:
        if settings.checkpoint:
            trainer.publish()
        while max_events is None or trainer.stats.events < max_events:
            if time.monotonic() - beat > 5.0:  # liveness for orchestrators (docker-compose healthcheck)
                heartbeat.touch()
                beat = time.monotonic()
            polled = consumer.poll(timeout_ms=500)
            records = [r for rs in polled.values() for r in rs]
            if not records:
                if idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                    break
                continue
            last_data = time.monotonic()
            events = []
            for r in records:
                try:
                    ev = parse_event(r.value)
                except InvalidEvent:
                    continue  # the workers dead-letter it
                if ev.event_id is None:
                    ev = Interaction(ev.user_id, ev.item_id, ev.ts, ev.event_type, ev.weight, assigned_event_id(r.topic, r.partition, r.offset), ev.attrs)
                events.append(ev)
            # Partitions arrive interleaved; the model learns in event time (stable within a partition).
            events.sort(key=lambda ev: ev.ts)
            version = trainer.step(events)
            consumer.commit()
            if version and on_publish:
                on_publish(version)
    finally:
        consumer.close()
    return trainer.stats
