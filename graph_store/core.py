"""The graph logic both backends share: in-memory state, batch application and reads.

:class:`GraphCore` keeps everything the hot path reads in memory (id maps, bounded neighbour lists,
degrees, popularity arrays, pair summaries, co-occurrence tables, the recent-events ring). While applying
a batch it records what changed in a :class:`BatchDelta`; a backend persists that delta in
:meth:`GraphCore._commit` (a no-op in memory, one RocksDB ``WriteBatch`` on disk).
"""
from __future__ import annotations

import math
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Iterator, Mapping, Sequence

import numpy as np

from graph_store.base import Applied, GraphConfig, GraphCounts, GraphStore, Neighbours, PairStats
from graph_store.events import Interaction
from graph_store.idmap import IdMap
from graph_store.neighbours import NeighbourList
from graph_store.sets import DedupeIndex, EdgeSet

#: Rebase the popularity anchor when exp((t - anchor) / tau) would exceed e**50 (float64 overflows ~e**709).
_POP_REBASE = 50.0

#: A per-user pair summary: [count, weight_sum, last_ts, first_ts] (a list: updated in place).
PairSummary = list


@dataclass
class BatchDelta:
    """What one ``apply`` changed, for a backend to persist."""

    n_users_before: int
    n_items_before: int
    events_before: int
    users: set[int] = field(default_factory=set)
    items: set[int] = field(default_factory=set)
    cooccur: set[int] = field(default_factory=set)
    #: (user, item) pairs whose summary changed or was evicted.
    pairs: set[tuple[int, int]] = field(default_factory=set)
    watermarks: set[tuple[str, int]] = field(default_factory=set)

    def is_empty(self) -> bool:
        return not (self.users or self.watermarks)


def numeric_attrs(attrs: Mapping[str, object]) -> dict[str, float] | None:
    """The finite numeric (and bool) attributes as floats, ``None`` when there are none.

    >>> numeric_attrs({"price": 59.9, "category": "shoes", "win": True})
    {'price': 59.9, 'win': 1.0}
    """
    out = {}
    for key, value in attrs.items():
        if isinstance(value, (int, float)) and math.isfinite(value):
            out[key] = float(value)
    return out or None


def _validate(events: Sequence[Interaction], offsets: Sequence[int] | None) -> None:
    """Reject a malformed batch before anything is mutated (so a batch is all-or-nothing)."""
    if offsets is not None and len(offsets) != len(events):
        raise ValueError(f"{len(offsets)} offsets for {len(events)} events")
    for k, ev in enumerate(events):
        if not (isinstance(ev.user_id, str) and ev.user_id and isinstance(ev.item_id, str) and ev.item_id):
            raise ValueError(f"event {k}: user_id and item_id must be non-empty strings")
        if not math.isfinite(ev.ts):
            raise ValueError(f"event {k}: ts must be finite, got {ev.ts!r}")
        if not math.isfinite(ev.weight):
            raise ValueError(f"event {k}: weight must be finite, got {ev.weight!r}")


class GraphCore(GraphStore):
    """In-memory implementation of :class:`GraphStore` with a persistence hook (see module docstring)."""

    def __init__(self, config: GraphConfig = GraphConfig()) -> None:
        self.config = config
        self._tau = float(config.popularity_tau)
        self._users = IdMap()
        self._items = IdMap()
        # per user
        self._user_nbrs: list[NeighbourList] = []
        self._user_degree: list[int] = []
        self._user_pairs: list[dict[int, PairSummary]] = []
        # per item
        self._item_nbrs: list[NeighbourList] = []
        self._cooccur: list[dict[int, int]] = []
        self._item_count = np.zeros(64, dtype=np.int64)
        #: popularity relative to ``_pop_anchor``: pop(t) = _pop * exp(-(t - _pop_anchor) / tau)
        self._pop = np.zeros(64, dtype=np.float64)
        self._pop_anchor: float | None = None
        # recent-events ring, slot = event sequence number % window_size
        cap = min(config.window_size, 1024)
        self._ring_user = np.zeros(cap, dtype=np.int64)
        self._ring_item = np.zeros(cap, dtype=np.int64)
        self._ring_ts = np.zeros(cap, dtype=np.float64)
        self._ring_w = np.zeros(cap, dtype=np.float64)
        self._ring_attrs: list[dict[str, float] | None] = [None] * cap
        # counters and source positions
        self._n_events = 0
        self._n_edges = 0
        self._watermarks: dict[tuple[str, int], int] = {}
        self._dedupe = self._make_dedupe()
        self._edges = self._make_edges()
        self._failed: BaseException | None = None
        self._txn: BatchDelta | None = None  # open transaction(): applies join it, one commit at its end

    # ------------------------------------------------------------ backend hooks
    def _make_dedupe(self) -> DedupeIndex:
        return DedupeIndex(self.config.dedupe_window)

    def _make_edges(self) -> EdgeSet:
        return EdgeSet()

    def _commit(self, delta: BatchDelta) -> None:
        """Persist one batch's changes atomically (memory: nothing to do)."""

    # ------------------------------------------------------------ ids
    @property
    def n_users(self) -> int:
        return len(self._users)

    @property
    def n_items(self) -> int:
        return len(self._items)

    def user_index(self, user_id: str) -> int | None:
        return self._users.index(user_id)

    def item_index(self, item_id: str) -> int | None:
        return self._items.index(item_id)

    def user_id(self, index: int) -> str:
        return self._users.key(index)

    def item_id(self, index: int) -> str:
        return self._items.key(index)

    def item_ids(self) -> list[str]:
        return self._items.keys()

    # ------------------------------------------------------------ growth (shared by apply and loading)
    def _add_user(self, user_id: str) -> tuple[int, bool]:
        u, new = self._users.add(user_id)
        if new:
            self._user_nbrs.append(NeighbourList())
            self._user_degree.append(0)
            self._user_pairs.append({})
        return u, new

    def _add_item(self, item_id: str) -> tuple[int, bool]:
        i, new = self._items.add(item_id)
        if new:
            self._item_nbrs.append(NeighbourList())
            self._cooccur.append({})
            if i >= len(self._pop):
                grow = len(self._pop)
                self._pop = np.concatenate([self._pop, np.zeros(grow)])
                self._item_count = np.concatenate([self._item_count, np.zeros(grow, dtype=np.int64)])
        return i, new

    def _ring_put(self, seq: int, u: int, i: int, t: float, w: float, attrs: dict[str, float] | None) -> None:
        slot = seq % self.config.window_size
        if slot >= len(self._ring_ts):
            cap = min(self.config.window_size, 2 * len(self._ring_ts))
            extra = cap - len(self._ring_ts)
            self._ring_user = np.concatenate([self._ring_user, np.zeros(extra, dtype=np.int64)])
            self._ring_item = np.concatenate([self._ring_item, np.zeros(extra, dtype=np.int64)])
            self._ring_ts = np.concatenate([self._ring_ts, np.zeros(extra)])
            self._ring_w = np.concatenate([self._ring_w, np.zeros(extra)])
            self._ring_attrs.extend([None] * extra)
        self._ring_user[slot] = u
        self._ring_item[slot] = i
        self._ring_ts[slot] = t
        self._ring_w[slot] = w
        self._ring_attrs[slot] = attrs

    # ------------------------------------------------------------ writes
    def apply(
        self,
        events: Sequence[Interaction],
        *,
        source: tuple[str, int] | None = None,
        offsets: Sequence[int] | None = None,
    ) -> list[Applied | None]:
        if self._failed is not None:
            raise RuntimeError("an earlier apply failed midway; reopen the store") from self._failed
        if (source is None) != (offsets is None):
            raise ValueError("source and offsets go together")
        events = list(events)
        _validate(events, offsets)
        delta = self._txn if self._txn is not None else BatchDelta(self.n_users, self.n_items, self._n_events)
        out: list[Applied | None] = []
        try:
            mark = -1
            if source is not None:
                source = (str(source[0]), int(source[1]))
                mark = self._watermarks.get(source, -1)
            for k, ev in enumerate(events):
                if offsets is not None:
                    offset = int(offsets[k])
                    if offset <= mark:
                        out.append(None)
                        continue
                    mark = offset
                eid = ev.event_id
                if eid is not None and eid in self._dedupe:
                    out.append(None)
                    continue
                out.append(self._apply_one(ev, delta))
                if eid is not None:
                    self._dedupe.add(eid)
            if source is not None and mark > self._watermarks.get(source, -1):
                self._watermarks[source] = mark
                delta.watermarks.add(source)
            if self._txn is None and not delta.is_empty():
                self._commit(delta)
        except BaseException as exc:  # memory and disk may now disagree: refuse further writes
            self._failed = exc
            raise
        return out

    @contextmanager
    def transaction(self) -> Iterator["GraphCore"]:
        """Make every ``apply`` inside one atomic write, committed when the block ends.

        Reads inside the block already see the applied events; a crash before the end loses the whole
        block (watermarks included), never part of it. Nested blocks join the outer one.
        """
        if self._txn is not None:
            yield self
            return
        if self._failed is not None:
            raise RuntimeError("an earlier apply failed midway; reopen the store") from self._failed
        self._txn = BatchDelta(self.n_users, self.n_items, self._n_events)
        try:
            yield self
            delta, self._txn = self._txn, None
            if not delta.is_empty():
                self._commit(delta)
        except BaseException as exc:
            self._txn = None
            self._failed = exc
            raise

    def _apply_one(self, ev: Interaction, delta: BatchDelta) -> Applied:
        cfg = self.config
        u, new_u = self._add_user(ev.user_id)
        i, new_i = self._add_item(ev.item_id)
        t = float(ev.ts)
        w = float(ev.weight)

        # co-occurrence: transition from the user's latest item, unless late or a self-transition
        unbrs = self._user_nbrs[u]
        last = unbrs.last()
        if last is not None and t >= last[1] and last[0] != i:
            self._cooccur_add(last[0], i)
            delta.cooccur.add(last[0])

        unbrs.insert(i, t, w, cfg.max_neighbours)
        self._item_nbrs[i].insert(u, t, w, cfg.max_neighbours)
        self._user_degree[u] += 1
        self._item_count[i] += 1
        self._pop_add(i, t, w)

        repeat = self._pair_add(u, i, t, w, new_u or new_i, delta)

        attrs = numeric_attrs(ev.attrs) if ev.attrs else None
        self._ring_put(self._n_events, u, i, t, w, attrs)
        self._n_events += 1
        delta.users.add(u)
        delta.items.add(i)
        return Applied(u, i, new_u, new_i, repeat)

    def _pop_add(self, i: int, t: float, w: float) -> None:
        anchor = self._pop_anchor
        if anchor is None:
            anchor = self._pop_anchor = t
        e = (t - anchor) / self._tau
        if e > _POP_REBASE:  # move the anchor forward so exp() stays finite
            n = self.n_items
            self._pop[:n] *= math.exp(-e)
            self._pop_anchor = t
            e = 0.0
        self._pop[i] += w * math.exp(e)

    def _pair_add(self, u: int, i: int, t: float, w: float, new_node: bool, delta: BatchDelta) -> bool:
        pairs = self._user_pairs[u]
        st = pairs.get(i)
        delta.pairs.add((u, i))
        if st is not None:
            st[0] += 1
            st[1] += w
            if t > st[2]:
                st[2] = t
            if t < st[3]:
                st[3] = t
            return True
        # the summary may have been evicted: the edge set is the exact record of pairs seen
        repeat = not new_node and (u, i) in self._edges
        if not repeat:
            self._edges.add(u, i)
            self._n_edges += 1
        pairs[i] = [1, w, t, t]
        if len(pairs) > self.config.max_user_items:
            victim = min(pairs, key=lambda j: (pairs[j][2], j))
            del pairs[victim]
            delta.pairs.add((u, victim))
        return repeat

    def _cooccur_add(self, prev: int, nxt: int) -> None:
        table = self._cooccur[prev]
        count = table.pop(nxt, 0)  # re-inserted below: dict order = least recently incremented first
        if count == 0 and len(table) >= self.config.max_cooccur:
            del table[min(table, key=table.__getitem__)]
        table[nxt] = count + 1

    def watermark(self, topic: str, partition: int) -> int:
        return self._watermarks.get((topic, int(partition)), -1)

    # ------------------------------------------------------------ reads
    def _user(self, user: int) -> int:
        if not 0 <= user < len(self._user_nbrs):
            raise IndexError(f"unknown user index {user}")
        return user

    def _item(self, item: int) -> int:
        if not 0 <= item < len(self._item_nbrs):
            raise IndexError(f"unknown item index {item}")
        return item

    def user_neighbours(self, user: int, k: int) -> Neighbours:
        return self._user_nbrs[self._user(user)].read(k)

    def item_neighbours(self, item: int, k: int) -> Neighbours:
        return self._item_nbrs[self._item(item)].read(k)

    def degree_user(self, user: int) -> int:
        return self._user_degree[self._user(user)]

    def degree_item(self, item: int) -> int:
        return int(self._item_count[self._item(item)])

    def last_item(self, user: int) -> int | None:
        last = self._user_nbrs[self._user(user)].last()
        return None if last is None else last[0]

    def user_item_stats(self, user: int) -> PairStats:
        pairs = self._user_pairs[self._user(user)]
        item = np.fromiter(pairs.keys(), dtype=np.int64, count=len(pairs))
        rows = np.array(list(pairs.values()), dtype=np.float64).reshape(len(pairs), 4)
        order = np.lexsort((item, -rows[:, 2]))
        rows = rows[order]
        return PairStats(
            item=item[order],
            count=rows[:, 0].astype(np.int64),
            weight_sum=rows[:, 1].copy(),
            last_ts=rows[:, 2].copy(),
            first_ts=rows[:, 3].copy(),
        )

    def pair_stats(self, user: int, item: int) -> tuple[int, float, float, float] | None:
        st = self._user_pairs[self._user(user)].get(item)
        return None if st is None else (st[0], st[1], st[2], st[3])

    def item_popularity(self, t: float) -> np.ndarray:
        n = self.n_items
        if n == 0 or self._pop_anchor is None:
            return np.zeros(n, dtype=np.float64)
        return self._pop[:n] * math.exp((self._pop_anchor - t) / self._tau)

    def item_counts(self) -> np.ndarray:
        return self._item_count[: self.n_items].copy()

    def cooccurrence(self, item: int) -> tuple[np.ndarray, np.ndarray]:
        table = self._cooccur[self._item(item)]
        nxt = np.fromiter(table.keys(), dtype=np.int64, count=len(table))
        cnt = np.fromiter(table.values(), dtype=np.int64, count=len(table))
        order = np.lexsort((nxt, -cnt))
        return nxt[order], cnt[order]

    def _ring_slots(self, limit: int | None) -> np.ndarray:
        kept = min(self._n_events, self.config.window_size)
        m = kept if limit is None else max(0, min(int(limit), kept))
        return np.arange(self._n_events - m, self._n_events, dtype=np.int64) % self.config.window_size

    def recent_arrays(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """The last ``limit`` kept events as arrays ``(user, item, ts, weight)`` in apply order."""
        slots = self._ring_slots(limit)
        return self._ring_user[slots], self._ring_item[slots], self._ring_ts[slots], self._ring_w[slots]

    def recent_events(self, limit: int | None = None) -> list[tuple[int, int, float, float]]:
        u, i, t, w = self.recent_arrays(limit)
        return list(zip(u.tolist(), i.tolist(), t.tolist(), w.tolist()))

    def recent_events_since(self, ts: float) -> list[tuple[int, int, float, float]]:
        u, i, t, w = self.recent_arrays()
        keep = t >= ts
        return list(zip(u[keep].tolist(), i[keep].tolist(), t[keep].tolist(), w[keep].tolist()))

    def recent_event_attrs(self, limit: int | None = None) -> list[dict[str, float] | None]:
        """Numeric attributes of the same events as ``recent_events(limit)`` (``None`` where none)."""
        attrs = self._ring_attrs
        return [None if attrs[s] is None else dict(attrs[s]) for s in self._ring_slots(limit).tolist()]

    def counts(self) -> GraphCounts:
        return GraphCounts(self.n_users, self.n_items, self._n_edges, self._n_events)
