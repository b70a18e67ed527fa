"""The worker's core step, free of Faust: validate a micro-batch, apply it to the graph, score, answer.

An agent hands :meth:`EventProcessor.process` the raw messages it consumed; it gets back the
``recommendations`` and ``interactions.dlq`` messages to send and the counts for the metrics. Keeping this
out of the agent makes the exactly-once-per-event rules testable without a broker:

* every message is either rejected (DLQ, with reason and coordinates) or answered by exactly one list;
* a list includes its own event and nothing later of that user: a batch is cut into *segments* in which
  each user appears once, each segment is applied and only then scored; the whole batch is one atomic
  store write, with the partitions' offset watermarks;
* a redelivered message (offset at or below the stored watermark, e.g. after a crash) is not applied again
  but is answered again: output is at-least-once, deduplicable by ``event_id``, state is exactly-once;
* a repeated producer ``event_id`` is applied once and answered each time it arrives.
"""
from __future__ import annotations

import time
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

import numpy as np

from graph_store.events import Interaction
from models.base import top_k
from stream.records import EventLimits, InvalidEvent, Recommendation, assigned_event_id, encode_dlq, encode_key, parse_event


@dataclass(frozen=True, slots=True)
class RawMessage:
    """A consumed Kafka record, as the core needs it."""

    topic: str
    partition: int
    offset: int
    value: bytes | None
    timestamp: float = 0.0  # broker/producer timestamp, seconds
    key: bytes | None = None


@dataclass
class BatchResult:
    """What one micro-batch produced: messages to send and counts for the metrics."""

    recommendations: list[tuple[bytes, bytes]] = field(default_factory=list)
    dlq: list[tuple[bytes | None, bytes]] = field(default_factory=list)
    rejected: Counter = field(default_factory=Counter)
    applied: int = 0
    duplicates: int = 0
    redelivered: int = 0
    late: int = 0
    #: Per accepted event whose user had a list: was its item in that list? (online hit@k, in order)
    hits: list[bool] = field(default_factory=list)
    #: (topic, partition) -> (last offset seen, its message timestamp), for lag in seconds.
    positions: dict[tuple[str, int], tuple[int, float]] = field(default_factory=dict)


class Scorer(Protocol):
    """What the processor needs from the serving model (heuristic or TGN adapter)."""

    model_version: str

    def observe(self, events: Sequence[Interaction], applied: Sequence[object | None]) -> None:
        """Called after a segment was applied to the store (the TGN updates its memory here)."""

    def recommend(self, users: Sequence[int], ts: Sequence[float], k: int) -> list[list[tuple[int, float]]]:
        """Top-k (item index, score) for each user, from state that includes their latest event."""

    def after_commit(self) -> None:
        """Called once a batch's store transaction committed (the TGN snapshots its state here)."""

    def close(self) -> None:
        """The worker stops: persist what must survive a restart (before the store closes)."""


class EventProcessor:
    """Validate -> dedupe -> apply (segment) -> observe -> score -> answer."""

    def __init__(
        self,
        store,  # graph_store.GraphStore
        scorer: Scorer,
        *,
        k: int = 10,
        lateness_s: float = 86400.0,
        limits: EventLimits = EventLimits(),
        clock: Callable[[], float] = time.time,
        max_tracked_users: int = 100_000,
    ) -> None:
        self.store = store
        self.scorer = scorer
        self.k = k
        self.lateness_s = lateness_s
        self.limits = limits
        self.clock = clock
        # The item ids of the last list sent to each (recent) user: the online hit rate's reference.
        self.max_tracked_users = max_tracked_users
        self._last_lists: OrderedDict[str, frozenset[str]] = OrderedDict()

    def process(self, batch: Sequence[RawMessage]) -> BatchResult:
        result = BatchResult()
        valid: list[tuple[RawMessage, Interaction]] = []
        for msg in batch:
            result.positions[(msg.topic, msg.partition)] = (msg.offset, msg.timestamp)
            try:
                ev = parse_event(msg.value, self.limits)
            except InvalidEvent as exc:
                result.rejected[exc.reason] += 1
                result.dlq.append((msg.key, encode_dlq(msg.value, exc.reason, exc.error, msg.topic, msg.partition, msg.offset)))
                continue
            if ev.event_id is None:
                ev = _with_id(ev, assigned_event_id(msg.topic, msg.partition, msg.offset))
            valid.append((msg, ev))
        # One atomic store write per micro-batch (watermarks included), however many segments it has.
        with self.store.transaction():
            for segment in _segments(valid):
                self._apply_and_answer(segment, result)
        self.scorer.after_commit()
        return result

    def _apply_and_answer(self, segment: list[tuple[RawMessage, Interaction]], result: BatchResult) -> None:
        # One atomic store write per source partition, offsets ascending within it.
        applied: dict[int, object | None] = {}
        by_source: dict[tuple[str, int], list[int]] = {}
        for n, (msg, _) in enumerate(segment):
            by_source.setdefault((msg.topic, msg.partition), []).append(n)
        for source, idx in by_source.items():
            events = [segment[n][1] for n in idx]
            late_before = [self._is_late(ev) for ev in events]
            watermark_before = self.store.watermark(*source)
            outcome = self.store.apply(events, source=source, offsets=[segment[n][0].offset for n in idx])
            for n, a, late in zip(idx, outcome, late_before):
                applied[n] = a
                if a is not None:
                    result.applied += 1
                    result.late += int(late)
                elif segment[n][0].offset <= watermark_before:
                    result.redelivered += 1
                else:
                    result.duplicates += 1
        events = [ev for _, ev in segment]
        for n, ev in enumerate(events):
            previous = self._last_lists.get(ev.user_id)
            if applied[n] is not None and previous is not None:
                result.hits.append(ev.item_id in previous)
        self.scorer.observe(events, [applied[n] for n in range(len(segment))])
        users = [self.store.user_index(ev.user_id) for ev in events]
        lists = self.scorer.recommend([u if u is not None else -1 for u in users], [ev.ts for ev in events], self.k)
        now = self.clock()
        for ev, ranked in zip(events, lists):
            rec = Recommendation(
                user_id=ev.user_id,
                items=[(self.store.item_id(i), s) for i, s in ranked],
                k=self.k,
                model_version=self.scorer.model_version,
                event_id=ev.event_id or "",
                event_ts=ev.ts,
                emitted_at=now,
            )
            result.recommendations.append((encode_key(ev.user_id), rec.encode()))
            self._remember(ev.user_id, rec)

    def _remember(self, user_id: str, rec: Recommendation) -> None:
        self._last_lists[user_id] = frozenset(i for i, _ in rec.items)
        self._last_lists.move_to_end(user_id)
        if len(self._last_lists) > self.max_tracked_users:
            self._last_lists.popitem(last=False)

    def _is_late(self, ev: Interaction) -> bool:
        user = self.store.user_index(ev.user_id)
        if user is None:
            return False
        recent = self.store.user_neighbours(user, 1)
        return len(recent.ts) > 0 and ev.ts < float(recent.ts[0]) - self.lateness_s


def _with_id(ev: Interaction, event_id: str) -> Interaction:
    return Interaction(ev.user_id, ev.item_id, ev.ts, ev.event_type, ev.weight, event_id, ev.attrs)


def _segments(valid: Iterable[tuple[RawMessage, Interaction]]) -> Iterable[list[tuple[RawMessage, Interaction]]]:
    """Cut the batch, in order, into runs in which every user appears at most once.

    Cutting in order keeps each run a prefix-closed slice per partition, so the watermark written with a run
    never covers an offset that a later run has yet to apply.

    >>> from graph_store.events import Interaction as I
    >>> m = RawMessage("t", 0, 0, b"")
    >>> [[e.user_id for _, e in s] for s in _segments([(m, I("a","x",1)), (m, I("b","x",1)), (m, I("a","y",2))])]
    [['a', 'b'], ['a']]
    """
    segment: list[tuple[RawMessage, Interaction]] = []
    users: set[str] = set()
    for pair in valid:
        if pair[1].user_id in users:
            yield segment
            segment, users = [], set()
        segment.append(pair)
        users.add(pair[1].user_id)
    if segment:
        yield segment


class HeuristicScorer:
    """Adapter: :class:`models.heuristic.GraphHeuristic` as the processor's :class:`Scorer`."""

    model_version = "heuristic-v2"  # v2: past and new items mixed by the learned repeat rate

    def __init__(self, store, **params) -> None:
        from models.heuristic import GraphHeuristic

        self.store = store
        self.model = GraphHeuristic(store, **params)

    def observe(self, events: Sequence[Interaction], applied: Sequence[object | None]) -> None:
        pass  # the heuristic reads the store directly

    def after_commit(self) -> None:
        pass  # no state beside the store

    def close(self) -> None:
        pass

    def recommend(self, users: Sequence[int], ts: Sequence[float], k: int) -> list[list[tuple[int, float]]]:
        if not users:
            return []
        n_items = self.store.n_items
        pop = self.store.item_popularity(float(max(ts)))
        return [top_k(self.model.score_with(u, pop, n_items), k) for u in users]
