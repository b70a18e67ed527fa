"""The prequential (test-then-learn) protocol: encode a stream, split it, and score a model over it.

One code path computes every quality figure: :func:`prequential` scores each event with the model's
state *before* that event and only then lets the model learn it. Baselines, the TGN and the live stream
all go through it, so their figures are comparable.

The query time is the time the list was *served* (:class:`ServedClock`), not the event's own: a worker
computes a user's list when their previous event arrives, so nothing of the scored event -- its time
included -- is known when it is ranked.

>>> stream = encode_arrays(["a", "b", "a", "a"], ["x", "y", "y", "x"], [0.0, 1.0, 2.0, 3.0])
>>> stream.items.tolist(), stream.n_known_items().tolist(), stream.repeat_flags().tolist()
([0, 1, 1, 0], [0, 1, 2, 2], [False, False, False, True])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Hashable, Iterable, Sequence

import numpy as np

from graph_store.events import Interaction
from models.base import Recommender
from models.evaluation.metrics import RECALL_KS, expected_rank, rank_counts, summarize

Progress = Callable[[int], None]  # called with the number of events just processed
#: Codes of :meth:`EventStream.next_kinds`.
SAME_AS_LAST, OTHER_PAST, NEW_PAIR = 0, 1, 2
NEXT_KIND_NAMES = ("same as last", "other past item", "new pair")


class ServedClock:
    """When the list an event is scored against was made: the time of the same user's previous event.

    That is when a worker computes the list (ARCHITECTURE.md: "the list that answered a user's previous
    event is the prediction for that user's next event"), so scoring at the event's own time would leak
    how long the user stayed away -- a strong hint of whether they come back to the same item. A user's
    first event has no list of their own; it is scored at the time of the latest event seen before it
    (its own time only for the very first event of the stream). Training, evaluation and fine-tune
    validation all take their query times from here.

    >>> clock = ServedClock()
    >>> clock.query_time("a", 5.0)          # nothing seen yet
    5.0
    >>> clock.observe("a", 5.0); clock.observe("b", 7.0)
    >>> clock.query_time("a", 9.0), clock.query_time("c", 9.0)
    (5.0, 7.0)
    """

    def __init__(self, history: Callable[[Hashable], float | None] | None = None, now: float | None = None) -> None:
        """``history``: the last event time of a user learned before this clock started (``None`` if
        none), e.g. read from a graph store; ``now``: the latest event time learned before it."""
        self._last: dict[Hashable, float] = {}
        self._history = history
        self._now = now

    def query_time(self, user: Hashable, t: float) -> float:
        """The serving time for ``user``'s event at ``t`` (call before :meth:`observe` of that event)."""
        last = self._last.get(user)
        if last is None and self._history is not None:
            last = self._history(user)
        if last is not None:
            return last
        return t if self._now is None else self._now

    def observe(self, user: Hashable, t: float) -> None:
        """The event of ``user`` at ``t`` has been learned (its list is made now)."""
        self._last[user] = t
        self._now = t if self._now is None else max(self._now, t)


@dataclass(frozen=True)
class EventStream:
    """A chronological stream with dense ids: users and items numbered 0, 1, ... by first appearance.

    Because item ids follow first appearance, the items known before event ``e`` are exactly
    ``0 .. n_known_items()[e] - 1`` and an item is new exactly when its id equals that count.
    """

    users: np.ndarray  # int64, dense user index per event
    items: np.ndarray  # int64, dense item index per event
    ts: np.ndarray  # float64, non-decreasing
    weights: np.ndarray  # float64
    user_ids: list[Hashable]  # dense index -> original id
    item_ids: list[Hashable]

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    def n_known_items(self) -> np.ndarray:
        """For each event, how many distinct items appeared in the events before it."""
        if len(self) == 0:
            return np.zeros(0, dtype=np.int64)
        seen_through = np.maximum.accumulate(self.items) + 1
        return np.concatenate([[0], seen_through[:-1]]).astype(np.int64)

    def repeat_flags(self) -> np.ndarray:
        """For each event, whether its (user, item) pair occurred in an earlier event."""
        pair = self.users * max(self.n_items, 1) + self.items
        _, first = np.unique(pair, return_index=True)
        repeat = np.ones(len(self), dtype=bool)
        repeat[first] = False
        return repeat

    def served_times(self) -> np.ndarray:
        """For each event, the time its list was served (:class:`ServedClock`): the query time of the protocol.

        >>> encode_arrays(["a", "b", "a", "c"], ["x", "y", "x", "y"], [1.0, 2.0, 4.0, 6.0]).served_times().tolist()
        [1.0, 1.0, 1.0, 4.0]
        """
        clock = ServedClock()
        out = np.empty(len(self), dtype=np.float64)
        for e, (u, t) in enumerate(zip(self.users.tolist(), self.ts.tolist())):
            out[e] = clock.query_time(u, t)
            clock.observe(u, t)
        return out

    def next_kinds(self) -> np.ndarray:
        """For each event, what the user did next relative to their own history (int8 codes):

        ``SAME_AS_LAST`` (0) the item of the user's previous event, ``OTHER_PAST`` (1) another item the
        user used before, ``NEW_PAIR`` (2) an item new to the user (every user's first event included).
        It refines :meth:`repeat_flags` (repeat = codes 0 and 1) and shows where a ranking wins or loses.

        >>> encode_arrays(["a"] * 4, ["x", "x", "y", "x"], [0.0, 1.0, 2.0, 3.0]).next_kinds().tolist()
        [2, 0, 2, 1]
        """
        kinds = np.full(len(self), NEW_PAIR, dtype=np.int8)
        last: dict[int, int] = {}
        seen: set[tuple[int, int]] = set()
        for e, (u, i) in enumerate(zip(self.users.tolist(), self.items.tolist())):
            if last.get(u) == i:
                kinds[e] = SAME_AS_LAST
            elif (u, i) in seen:
                kinds[e] = OTHER_PAST
            last[u] = i
            seen.add((u, i))
        return kinds


def encode_arrays(
    users: Sequence[Hashable],
    items: Sequence[Hashable],
    ts: Sequence[float],
    weights: Sequence[float] | None = None,
) -> EventStream:
    """Stable-sort events by time and number users and items densely by first appearance (after sorting).

    >>> s = encode_arrays(["u2", "u1"], ["i9", "i9"], [5.0, 1.0])
    >>> s.user_ids, s.users.tolist(), s.ts.tolist()
    (['u1', 'u2'], [0, 1], [1.0, 5.0])
    """
    ts_arr = np.asarray(ts, dtype=np.float64)
    if len(users) != len(ts_arr) or len(items) != len(ts_arr):
        raise ValueError("users, items and ts must have the same length")
    if not np.all(np.isfinite(ts_arr)):
        raise ValueError("timestamps must be finite")
    w_arr = np.ones(len(ts_arr)) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(ts_arr, kind="stable")
    user_index: dict[Hashable, int] = {}
    item_index: dict[Hashable, int] = {}
    u_dense = np.empty(len(order), dtype=np.int64)
    i_dense = np.empty(len(order), dtype=np.int64)
    for n, e in enumerate(order.tolist()):
        u_dense[n] = user_index.setdefault(users[e], len(user_index))
        i_dense[n] = item_index.setdefault(items[e], len(item_index))
    return EventStream(u_dense, i_dense, ts_arr[order], w_arr[order], list(user_index), list(item_index))


def encode(events: Iterable[Interaction]) -> EventStream:
    """:func:`encode_arrays` over :class:`Interaction` records (user_id, item_id, ts, weight)."""
    users, items, ts, weights = [], [], [], []
    for ev in events:
        users.append(ev.user_id)
        items.append(ev.item_id)
        ts.append(ev.ts)
        weights.append(ev.weight)
    return encode_arrays(users, items, ts, weights)


@dataclass(frozen=True)
class Split:
    """Event-count split of a stream: ``[0, train_end)`` train, ``[train_end, val_end)`` val, rest test."""

    train_end: int
    val_end: int
    n_events: int

    @property
    def spans(self) -> dict[str, tuple[int, int]]:
        return {
            "train": (0, self.train_end),
            "val": (self.train_end, self.val_end),
            "test": (self.val_end, self.n_events),
        }


def split_by_count(n_events: int, val_frac: float = 0.15, test_frac: float = 0.15) -> Split:
    """The JODIE/TGN split by event count: last ``round(n * test_frac)`` events test, the
    ``round(n * val_frac)`` before them validation, the rest train / warm-up.

    >>> split_by_count(157_474)
    Split(train_end=110232, val_end=133853, n_events=157474)
    """
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"need 0 <= val_frac, test_frac and val_frac + test_frac < 1, got {val_frac}, {test_frac}")
    n_test = int(round(n_events * test_frac))
    n_val = int(round(n_events * val_frac))
    return Split(n_events - n_val - n_test, n_events - n_test, n_events)


@dataclass(frozen=True)
class PrequentialResult:
    """Per scored event: position in the stream, rank counts, and flags for the repeat/new split."""

    positions: np.ndarray  # int64 event positions in the stream
    higher: np.ndarray  # int64 known items scored above the true item
    equal: np.ndarray  # int64 other known items scored the same
    n_known: np.ndarray  # int64 items known before the event
    repeat: np.ndarray  # bool: (user, item) occurred before
    new_item: np.ndarray  # bool: the item never occurred before (ranked after every known item)
    ts: np.ndarray  # float64 event times

    @property
    def ranks(self) -> np.ndarray:
        """Expected ranks under a random tie-break, ``1 + higher + equal / 2``."""
        return expected_rank(self.higher, self.equal)

    def __len__(self) -> int:
        return len(self.positions)

    def summary(self, n_windows: int = 10, ks: Sequence[int] = RECALL_KS) -> dict:
        """Overall / repeat / new metrics and ``n_windows`` windows over time (:func:`summarize`)."""
        return summarize(self.ranks, self.repeat, self.positions, self.ts, n_windows, ks)

    def select(self, mask: np.ndarray) -> "PrequentialResult":
        """The events where ``mask`` holds (e.g. ``result.select(result.repeat)``)."""
        return PrequentialResult(*(getattr(self, f)[mask] for f in self.__dataclass_fields__))


def warm_up(
    model: Recommender,
    stream: EventStream,
    start: int,
    stop: int,
    *,
    chunk: int = 4096,
    progress: Progress | None = None,
) -> None:
    """Let ``model`` learn events ``[start, stop)`` in order without scoring them (the train span)."""
    for a in range(start, stop, chunk):
        b = min(a + chunk, stop)
        model.learn_many(stream.users[a:b], stream.items[a:b], stream.ts[a:b], stream.weights[a:b])
        if progress is not None:
            progress(b - a)


def prequential(
    model: Recommender,
    stream: EventStream,
    start: int = 0,
    stop: int | None = None,
    *,
    batch_size: int = 1,
    progress: Progress | None = None,
) -> PrequentialResult:
    """Test-then-learn over events ``[start, stop)``: score each event, then let the model learn it.

    The model must already have learned events ``[0, start)`` (see :func:`warm_up`). Each event
    (u, i, t) is ranked among all items seen in earlier events by ``model.score(u, t_served, n_known)``,
    computed before the model learns the event, at the time its list was served
    (:meth:`EventStream.served_times`: the user's previous event), never at ``t``; ties and never-seen items follow
    :func:`models.evaluation.metrics.rank_counts`. With ``batch_size > 1`` the events of a batch are
    scored together (``score_many``) from the state before the batch and then learned together: a
    cheaper, slightly staler protocol for expensive models; ``1`` is the exact per-event protocol.

    >>> from models.baselines import EdgeBank
    >>> s = encode_arrays([0, 0, 0, 1], ["a", "b", "a", "a"], [0, 1, 2, 3])
    >>> r = prequential(EdgeBank(), s)
    >>> r.ranks.tolist(), r.repeat.tolist(), r.new_item.tolist()
    ([1.0, 2.0, 1.5, 1.5], [False, False, True, False], [True, True, False, False])
    """
    stop = len(stream) if stop is None else stop
    if not 0 <= start <= stop <= len(stream):
        raise ValueError(f"bad span [{start}, {stop}) for a stream of {len(stream)} events")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    n_known = stream.n_known_items()[start:stop]
    repeat = stream.repeat_flags()[start:stop]
    users, items, ts, weights = (a[start:stop] for a in (stream.users, stream.items, stream.ts, stream.weights))
    served = stream.served_times()[start:stop]
    n = stop - start
    higher = np.empty(n, dtype=np.int64)
    equal = np.empty(n, dtype=np.int64)
    step = 0
    for a in range(0, n, batch_size):
        b = min(a + batch_size, n)
        if batch_size == 1:
            u, i, t, w = int(users[a]), int(items[a]), float(ts[a]), float(weights[a])
            higher[a], equal[a] = rank_counts(model.score(u, float(served[a]), int(n_known[a])), i, int(n_known[a]))
            model.learn_one(u, i, t, w)
        else:
            rows = model.score_many(users[a:b].tolist(), served[a:b].tolist(), int(n_known[b - 1]))
            for e in range(a, b):
                higher[e], equal[e] = rank_counts(rows[e - a], int(items[e]), int(n_known[e]))
            model.learn_many(users[a:b], items[a:b], ts[a:b], weights[a:b])
        step += b - a
        if progress is not None and (step >= 1000 or b == n):
            progress(step)
            step = 0
    return PrequentialResult(
        positions=np.arange(start, stop, dtype=np.int64),
        higher=higher,
        equal=equal,
        n_known=n_known.copy(),
        repeat=repeat,
        new_item=items >= n_known,
        ts=ts.copy(),
    )
