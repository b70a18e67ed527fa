"""The trainer: follows the whole interaction stream, fine-tunes the TGN periodically, publishes models.

One trainer per deployment (its own consumer group, ``<app_id>-trainer``, reading every partition):

* no checkpoint yet -> it trains a first model on the first ``finetune_every_events`` events (all but the
  newest 20%, on which it must score at least as well as the heuristic the workers serve until then, or
  it is not published and the next fine-tunes must beat the heuristic too);
* then every ``finetune_every_events`` events or ``finetune_every_s`` seconds -- earlier when ADWIN sees the
  online hit rate drop (drift) -- it fine-tunes a copy of the current weights on the recent window,
  validates old and new on the newest slice and publishes only if the new one is not worse;
* publishing = an atomic checkpoint file in ``checkpoint_dir`` plus an announcement on ``model-updates``;
  workers hot-swap to it.

A restarted trainer carries on where it stopped: it resumes the newest model announced on ``model-updates``
(unless ``--checkpoint`` names one) without announcing it again, and rebuilds its recent window by
replaying up to ``finetune_window`` events before its group's committed offsets, so its next fine-tune
sees the same window an uninterrupted trainer would.

Training load stays off the serving path: workers keep answering while the trainer works.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from graph_store.events import Interaction
from stream.model_updates import ModelAnnouncement, announce, latest_announcement
from stream.ordering import merge_by_timestamp
from stream.settings import Settings

log = logging.getLogger("streamrec.trainer")
#: Touched every few seconds in ``checkpoint_dir`` while the trainer loop runs.
HEARTBEAT = "trainer.alive"


@dataclass
class TrainerStats:
    events: int = 0
    published: list[str] = field(default_factory=list)
    finetunes: int = 0
    resumed_from: str | None = None  # the announced version a restarted trainer carried on from
    replayed: int = 0  # events replayed at start to rebuild the recent window


class Trainer:
    """Learns from batches of events (pure of Kafka; :func:`run_trainer` feeds it from the topic)."""

    def __init__(self, settings: Settings, publish: Callable[[ModelAnnouncement], None] | None = None, drift_sample: int = 64,
                 resume: ModelAnnouncement | None = None) -> None:
        """``resume``: the newest announced model, carried on from (and not announced again) when no
        ``settings.checkpoint`` is given and its file is readable."""
        from models.tgn.recommender import TGNRecommender

        self.settings = settings
        self.publish_fn = publish or (lambda ann: announce(settings.bootstrap, settings.model_topic, ann))
        self.drift_sample = drift_sample
        common = dict(finetune_every=settings.finetune_every_events or None, finetune_window=settings.finetune_window,
                      seed=settings.seed, device=settings.device, progress=False)
        self.stats = TrainerStats()
        if not settings.checkpoint and resume is not None and not Path(resume.checkpoint).is_file():
            log.warning("the announced model %s is not readable at %s: training a new one", resume.version, resume.checkpoint)
            resume = None
        if settings.checkpoint:
            self.rec = TGNRecommender.from_checkpoint(settings.checkpoint, store=None, **common)
            self.published = None  # announce the starting model so workers pick it up
        elif resume is not None:
            self.rec = TGNRecommender.from_checkpoint(resume.checkpoint, store=None, **common)
            self.published = self.rec.version  # the workers serve it already
            self.stats.resumed_from = self.rec.version
            log.info("resuming %s from %s", self.rec.version, resume.checkpoint)
        else:
            self.rec = TGNRecommender(epochs=settings.train_epochs, **common)
            self.published = self.rec.version  # "untrained": nothing to announce yet
        self._last_finetune = time.monotonic()
        self._since_publish = 0
        self._last_result: dict = {}

    def warm(self, events: Sequence[Interaction]) -> None:
        """Rebuild state from events learned before a restart: no fine-tune, nothing published.

        Before the first model they are training history, as they would have been without the restart."""
        self.stats.replayed += self.rec.replay(events)

    def step(self, events: Sequence[Interaction]) -> str | None:
        """Learn a batch (scoring a sample first, for the drift monitor); returns a version if one was published."""
        rec = self.rec
        if rec.fitted and rec.store.n_items and self.drift_sample:
            sample = events[: self.drift_sample]
            users = [rec.store.user_index(ev.user_id) for ev in sample]
            from models.tgn.training import served_clock

            clock = served_clock(rec.store)  # each user's list as a worker served it, not at the event's own time
            rec.score_many([-1 if u is None else u for u in users],
                           [clock.query_time(ev.user_id, float(ev.ts)) for ev in sample], rec.store.n_items)
        n_ft = len(rec.finetunes)
        for ev in events:
            rec.learn_event(ev)
        self.stats.events += len(events)
        self._since_publish += len(events)
        if not rec.fitted and rec._n_learned >= max(self.settings.finetune_every_events, 1):
            t0 = time.perf_counter()
            result = rec.fit(val_frac=rec.finetune_val_frac)  # held out: the first model must beat the heuristic
            losses = getattr(result, "losses", None) or [float("nan")]
            self._last_result = {"train_loss": float(losses[-1]), "finetune_duration_s": time.perf_counter() - t0,
                                 "kind": "initial", "events": rec._n_learned,
                                 "val_mrr_new": getattr(result, "val_mrr", float("nan")),
                                 "val_mrr_heuristic": getattr(result, "val_mrr_heuristic", float("nan"))}
            log.info("first TGN on %d events: val MRR %.4f vs the serving heuristic's %.4f -> %s", rec._n_learned,
                     self._last_result["val_mrr_new"], self._last_result["val_mrr_heuristic"],
                     "not published; the next fine-tunes must beat the heuristic too" if rec.must_beat_heuristic
                     else "published")
            self._last_finetune = time.monotonic()
        elif rec.fitted and self.settings.finetune_every_s and self._since_publish and \
                time.monotonic() - self._last_finetune >= self.settings.finetune_every_s and rec.store.counts().events >= 100:
            rec.run_finetune()
        if len(rec.finetunes) > n_ft:
            self.stats.finetunes += len(rec.finetunes) - n_ft
            ft = rec.finetunes[-1]
            self._last_finetune = time.monotonic()
            self._last_result = {"train_loss": ft.train_loss, "finetune_duration_s": ft.duration_s, "val_mrr_new": ft.val_mrr_new,
                                 "val_mrr_old": ft.val_mrr_old, "val_mrr_heuristic": ft.val_mrr_heuristic,
                                 "published": ft.published, "kind": "finetune"}
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

    group = f"{settings.app_id}-trainer"
    resume = None if settings.checkpoint else latest_announcement(settings.bootstrap, settings.model_topic)
    trainer = Trainer(settings, resume=resume)
    trainer.warm(replay_window(settings, group, settings.finetune_window))
    if trainer.stats.replayed:
        log.info("replayed %d events before the committed offsets to rebuild the window", trainer.stats.replayed)
    consumer = KafkaConsumer(settings.input_topic, bootstrap_servers=settings.bootstrap, group_id=group,
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
            records = [r for _, r in merge_by_timestamp(polled)]  # partitions interleaved in time order
            if not records:
                if idle_exit_s is not None and time.monotonic() - last_data > idle_exit_s:
                    break
                continue
            last_data = time.monotonic()
            version = trainer.step(decode(records))
            consumer.commit()
            if version and on_publish:
                on_publish(version)
    finally:
        consumer.close()
    return trainer.stats


def decode(records: Sequence) -> list[Interaction]:
    """Valid events of consumer records in event time (partitions arrive interleaved; the sort is stable
    within a partition). Invalid ones are skipped: the workers dead-letter them."""
    from stream.records import InvalidEvent, assigned_event_id, parse_event

    events = []
    for r in records:
        try:
            ev = parse_event(r.value)
        except InvalidEvent:
            continue
        if ev.event_id is None:
            ev = Interaction(ev.user_id, ev.item_id, ev.ts, ev.event_type, ev.weight, assigned_event_id(r.topic, r.partition, r.offset), ev.attrs)
        events.append(ev)
    events.sort(key=lambda ev: ev.ts)
    return events


def replay_window(settings: Settings, group: str, limit: int, timeout_s: float = 120.0) -> list[Interaction]:
    """Up to ``limit`` events (split evenly over the partitions) just before ``group``'s committed offsets.

    Empty when the group never committed (a first start reads the topic from the beginning anyway). Read
    with a group-less consumer, so the group's offsets and membership are untouched.
    """
    from kafka import KafkaConsumer, TopicPartition

    from stream.lag import LagProbe, topic_partitions

    with LagProbe(settings.bootstrap, group) as probe:
        parts = [(settings.input_topic, p) for p in topic_partitions(probe.admin, settings.input_topic)]
        committed = {tp: off for tp, off in probe.committed(parts).items() if off > 0}
    if not committed or limit <= 0:
        return []
    per_partition = -(-limit // len(parts))
    consumer = KafkaConsumer(bootstrap_servers=settings.bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = {TopicPartition(t, p): stop for (t, p), stop in committed.items()}
        consumer.assign(list(tps))
        begins = consumer.beginning_offsets(list(tps))
        for tp, stop in tps.items():
            consumer.seek(tp, max(begins[tp], stop - per_partition))
        records, open_ = [], {tp for tp in tps if consumer.position(tp) < tps[tp]}
        deadline = time.monotonic() + timeout_s
        while open_:
            if time.monotonic() > deadline:
                raise TimeoutError(f"replaying the trainer window took over {timeout_s} s")
            for tp, batch in consumer.poll(timeout_ms=500).items():
                records.extend(r for r in batch if r.offset < tps[tp])
                if consumer.position(tp) >= tps[tp]:
                    open_.discard(tp)
                    consumer.pause(tp)
    finally:
        consumer.close()
    return decode(records)
