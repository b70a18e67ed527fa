"""Hand-made temporal features of a (user, time) query, read from the serving graph before the event.

Three groups, each cheap to compute per event from :class:`graph_store.GraphStore` reads:

* **user context** (``ctx``): how much history the user has, how long since their last event, and how
  often they repeat themselves -- what lets the scorer *learn* how much a user repeats vs explores;
* **pair history** (``hist``): for each item the user used before, its count, recency (time and rank),
  whether it is the user's last item and how often it followed the last item in the user's own recent
  sequence -- only the user's past items are non-zero, so this part is sparse;
* **item state** (dense over all items): time-decayed popularity at several scales, raw count, time since
  the item was last used, stickiness, numeric attributes; sparse: transitions out of the user's last item
  (store co-occurrence) and the recent items of the other users of that last item (two hops).

The state these features need beyond the store (multi-scale popularity, attribute means) lives in
:class:`DecayedPopularity` and :class:`ItemAttributes`; :class:`FeatureBuilder` owns both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

from graph_store.base import GraphStore

#: Default popularity time scales (seconds): 10 minutes, 1 hour, 1 day, 1 week.
DEFAULT_TAUS: tuple[float, ...] = (600.0, 3600.0, 86400.0, 604800.0)
#: Number of user-context features (see :meth:`FeatureBuilder.query`).
CTX_DIM = 11
#: Number of pair-history features per past item.
PAIR_DIM = 14
#: Sparse "what comes next" features per item: transitions out of the user's last item (log count, share)
#: and use by the last item's other recent users (log count, share of those users).
TRANS_DIM = 4
#: Rebase the popularity anchor when ``(t - anchor) / min(tau)`` exceeds this (keeps exp() finite).
_REBASE = 50.0


def _log_t(dt: np.ndarray | float) -> np.ndarray | float:
    """Seconds to a bounded scale: ``log1p(max(dt, 0)) / 12`` (12 ~ log of 2 years in seconds)."""
    return np.log1p(np.maximum(dt, 0.0)) / 12.0


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


class DecayedPopularity:
    """Item popularity at several time scales, ``sum_e w_e * exp(-(t - t_e) / tau)`` per ``tau``.

    Also keeps per item the raw count, the latest event time and how many of its events continued a
    user's previous event on the same item (``stay``: how "sticky" the item is). Values are stored
    relative to a moving anchor time so a long stream never overflows.

    >>> pop = DecayedPopularity(taus=(10.0, 100.0))
    >>> pop.add(0, 0.0); pop.add(1, 10.0, weight=2.0)
    >>> np.round(pop.at(10.0, 2), 3).tolist()
    [[0.368, 0.905], [2.0, 2.0]]
    >>> pop.counts(2).tolist(), pop.last_ts(2).tolist()
    ([1.0, 1.0], [0.0, 10.0])
    """

    def __init__(self, taus: Sequence[float] = DEFAULT_TAUS) -> None:
        if not taus or min(taus) <= 0:
            raise ValueError(f"taus must be positive, got {taus!r}")
        self.taus = tuple(float(x) for x in taus)
        self._tau = np.asarray(self.taus, dtype=np.float64)
        self.reset_state()

    def reset_state(self) -> None:
        """Forget every event."""
        self._value = np.zeros((64, len(self.taus)), dtype=np.float64)
        self._count = np.zeros(64, dtype=np.float64)
        self._last = np.zeros(64, dtype=np.float64)
        self._stay = np.zeros(64, dtype=np.float64)
        self._anchor: float | None = None
        self.n_items = 0

    def _grow(self, n: int) -> None:
        cap = len(self._count)
        if n <= cap:
            return
        new = max(n, 2 * cap)
        self._value = np.concatenate([self._value, np.zeros((new - cap, len(self.taus)))])
        self._count = np.concatenate([self._count, np.zeros(new - cap)])
        self._last = np.concatenate([self._last, np.zeros(new - cap)])
        self._stay = np.concatenate([self._stay, np.zeros(new - cap)])

    def add(self, item: int, t: float, weight: float = 1.0, stay: bool = False) -> None:
        """Count one event of ``item`` at time ``t`` (``stay``: the user's previous event was on it too)."""
        self._grow(item + 1)
        self.n_items = max(self.n_items, item + 1)
        if self._anchor is None:
            self._anchor = t
        if (t - self._anchor) / self._tau.min() > _REBASE:
            self._value[: self.n_items] *= np.exp(-(t - self._anchor) / self._tau)
            self._anchor = t
        self._value[item] += weight * np.exp((t - self._anchor) / self._tau)
        self._count[item] += 1.0
        self._stay[item] += float(stay)
        self._last[item] = max(self._last[item], t) if self._count[item] > 1 else t

    def at(self, t: float, n: int, items: np.ndarray | None = None) -> np.ndarray:
        """Popularity of items ``0..n-1`` (or of ``items``, indices below ``n``) at time ``t``, shape
        ``(len, len(taus))``."""
        self._grow(n)
        rows = len(items) if items is not None else n
        if self._anchor is None:
            return np.zeros((rows, len(self.taus)))
        # A query older than the anchor (events from several partitions interleave in a worker) sees the
        # popularity as of the anchor: growing it back in time would overflow and is no truer.
        value = self._value[:n] if items is None else self._value[items]
        return value * np.exp(min(self._anchor - t, 0.0) / self._tau)

    def counts(self, n: int, items: np.ndarray | None = None) -> np.ndarray:
        self._grow(n)
        return self._count[:n].copy() if items is None else self._count[items]

    def last_ts(self, n: int, items: np.ndarray | None = None) -> np.ndarray:
        self._grow(n)
        return self._last[:n].copy() if items is None else self._last[items]

    def stays(self, n: int, items: np.ndarray | None = None) -> np.ndarray:
        self._grow(n)
        return self._stay[:n].copy() if items is None else self._stay[items]

    def state_dict(self) -> dict[str, Tensor | float | None]:
        """The state as tensors and floats (loadable with ``torch.load(weights_only=True)``)."""
        n = self.n_items
        return {
            "value": torch.from_numpy(self._value[:n].copy()),
            "count": torch.from_numpy(self._count[:n].copy()),
            "last": torch.from_numpy(self._last[:n].copy()),
            "stay": torch.from_numpy(self._stay[:n].copy()),
            "anchor": self._anchor,
        }

    def load_state_dict(self, state: Mapping[str, Tensor | float | None]) -> None:
        value = state["value"].numpy()  # type: ignore[union-attr]
        n = len(value)
        self.reset_state()
        self._grow(n)
        self._value[:n] = value
        self._count[:n] = state["count"].numpy()  # type: ignore[union-attr]
        self._last[:n] = state["last"].numpy()  # type: ignore[union-attr]
        self._stay[:n] = state["stay"].numpy()  # type: ignore[union-attr]
        self._anchor = None if state["anchor"] is None else float(state["anchor"])  # type: ignore[arg-type]
        self.n_items = n


class ItemAttributes:
    """Running mean of selected numeric event attributes per item (e.g. ``price``), as item features.

    >>> attrs = ItemAttributes(("price",))
    >>> attrs.add(1, {"price": 9.0}); attrs.add(1, {"price": 11.0, "colour": "red"})
    >>> attrs.means(2).tolist()
    [[0.0], [10.0]]
    """

    def __init__(self, names: Sequence[str] = ()) -> None:
        self.names = tuple(names)
        self.reset_state()

    def reset_state(self) -> None:
        self._sum = np.zeros((64, len(self.names)))
        self._n = np.zeros((64, len(self.names)))

    def add(self, item: int, attrs: Mapping[str, object] | None) -> None:
        if not self.names or not attrs:
            return
        if item >= len(self._n):
            grow = max(item + 1, 2 * len(self._n)) - len(self._n)
            self._sum = np.concatenate([self._sum, np.zeros((grow, len(self.names)))])
            self._n = np.concatenate([self._n, np.zeros((grow, len(self.names)))])
        for j, name in enumerate(self.names):
            v = attrs.get(name)
            if isinstance(v, (int, float)) and math.isfinite(v):
                self._sum[item, j] += float(v)
                self._n[item, j] += 1.0

    def means(self, n: int, items: np.ndarray | None = None) -> np.ndarray:
        """Mean attribute values of items ``0..n-1`` (or of ``items``; 0 where never seen), shape
        ``(len, len(names))``."""
        if items is not None:
            out = np.zeros((len(items), len(self.names)))
            ok = items < len(self._n)
            s, c = self._sum[items[ok]], self._n[items[ok]]
            out[ok] = np.divide(s, c, out=np.zeros_like(s), where=c > 0)
            return out
        out = np.zeros((n, len(self.names)))
        m = min(n, len(self._n))
        np.divide(self._sum[:m], self._n[:m], out=out[:m], where=self._n[:m] > 0)
        return out

    def state_dict(self) -> dict[str, Tensor]:
        return {"sum": torch.from_numpy(self._sum.copy()), "n": torch.from_numpy(self._n.copy())}

    def load_state_dict(self, state: Mapping[str, Tensor]) -> None:
        self._sum = state["sum"].numpy().copy()
        self._n = state["n"].numpy().copy()


@dataclass
class Query:
    """Features of one ``(user, t)`` query over the ``n_known`` items known at that moment (numpy)."""

    user: int  # dense user index, -1 for a user never seen
    t: float
    n_known: int
    ctx: np.ndarray  # (CTX_DIM,)
    item_x: np.ndarray  # (n_known, item_base_dim) or (len(item_rows), ...): popularity, count, recency, attributes
    hist_item: np.ndarray  # (H,) the user's past items
    hist_x: np.ndarray  # (H, PAIR_DIM)
    trans_item: np.ndarray  # (M,) items that followed the user's last item, or its other users used
    trans_x: np.ndarray  # (M, TRANS_DIM)
    nbr_item: np.ndarray  # (K,) the user's most recent items, most recent first
    nbr_dt: np.ndarray  # (K,) query time minus event time
    nbr_w: np.ndarray  # (K,) event weights
    #: The items ``item_x`` describes (sorted, unique, below ``n_known``); ``None``: all of ``0..n_known-1``.
    item_rows: np.ndarray | None = None

    def with_items(self, item_x: np.ndarray, item_rows: np.ndarray) -> Query:
        """This query with item features for ``item_rows`` only (see :meth:`FeatureBuilder.item_state`)."""
        return replace(self, item_x=item_x, item_rows=np.asarray(item_rows, dtype=np.int64))


@dataclass
class QueryBatch:
    """A batch of queries over one shared candidate list ``cand`` (tensors, ready for the model).

    ``item_x`` stacks the item-state and transition features; ``pair_x`` is zero outside
    ``pair_mask`` (items the user used before); ``known`` masks candidates not yet known at query time.
    Neighbour rows are padded with ``nbr_item = -1``.
    """

    user: Tensor  # (B,) long
    t: Tensor  # (B,) float
    ctx: Tensor  # (B, CTX_DIM)
    cand: Tensor  # (N,) long item indices
    item_x: Tensor  # (B, N, item_dim)
    pair_x: Tensor  # (B, N, PAIR_DIM)
    pair_mask: Tensor  # (B, N) bool
    known: Tensor  # (B, N) bool
    nbr_item: Tensor  # (B, K) long, -1 = padding
    nbr_dt: Tensor  # (B, K)
    nbr_w: Tensor  # (B, K)

    def to(self, device: torch.device | str) -> QueryBatch:
        return QueryBatch(**{f.name: getattr(self, f.name).to(device) for f in fields(self)})

    def __len__(self) -> int:
        return int(self.user.numel())


class FeatureBuilder:
    """Computes :class:`Query` features from a graph store plus its own popularity / attribute state.

    The store is read, never written: whoever applies events to the store also calls :meth:`observe`
    (after the event's own query was built, so no event ever sees itself).

    Parameters
    ----------
    store
        The serving graph (neighbours, pair summaries, co-occurrence, degrees).
    taus
        Popularity time scales in seconds.
    n_recent
        How many of the user's latest events to read for sequence features (own transitions, repeat rate).
    n_neighbours
        How many latest events to hand to the attention embedding.
    numeric_attrs
        Event attributes averaged per item as item features (e.g. ``("price",)``).
    n_touched
        For this many of the user's most recent items, count other users' events since the user's last.
    n_cousers
        Recent events of the user's last item whose (other) users' recent items become two-hop features.
    """

    def __init__(
        self,
        store: GraphStore,
        taus: Sequence[float] = DEFAULT_TAUS,
        n_recent: int = 50,
        n_neighbours: int = 10,
        numeric_attrs: Sequence[str] = (),
        n_touched: int = 10,
        n_cousers: int = 20,
    ) -> None:
        self.store = store
        self.n_touched = n_touched
        self.n_cousers = n_cousers
        self.taus = tuple(taus)
        self.n_recent = n_recent
        self.n_neighbours = n_neighbours
        self.numeric_attrs = tuple(numeric_attrs)
        self.popularity = DecayedPopularity(self.taus)
        self.attributes = ItemAttributes(self.numeric_attrs)

    @property
    def item_base_dim(self) -> int:
        return len(self.taus) + 4 + len(self.numeric_attrs)

    @property
    def item_dim(self) -> int:
        """Width of ``QueryBatch.item_x``."""
        return self.item_base_dim + TRANS_DIM

    def reset_state(self) -> None:
        self.popularity.reset_state()
        self.attributes.reset_state()

    def observe(
        self, user: int, item: int, t: float, weight: float = 1.0, attrs: Mapping[str, object] | None = None
    ) -> None:
        """Fold one event (already applied to the store) into the popularity / attribute state."""
        nb = self.store.user_neighbours(user, 2)
        stay = len(nb) == 2 and int(nb.index[1]) == item
        self.popularity.add(item, t, weight, stay)
        self.attributes.add(item, attrs)

    def state_dict(self) -> dict:
        return {"popularity": self.popularity.state_dict(), "attributes": self.attributes.state_dict()}

    def load_state_dict(self, state: Mapping) -> None:
        self.popularity.load_state_dict(state["popularity"])
        self.attributes.load_state_dict(state["attributes"])

    def item_state(self, t: float, n: int, items: np.ndarray | None = None) -> np.ndarray:
        """Item features at time ``t`` for items ``0..n-1`` (or only ``items``, indices below ``n``): log
        popularity per tau, log count, time since the item's last event, stickiness (share of its events
        that continued a user's run on it), attribute means."""
        pop = self.popularity
        counts = pop.counts(n, items)
        stays = pop.stays(n, items)
        parts = [
            np.log1p(pop.at(t, n, items)),
            (np.log1p(counts) / 5.0)[:, None],
            _log_t(t - pop.last_ts(n, items))[:, None],
            (np.log1p(stays) / 5.0)[:, None],
            (stays / np.maximum(counts, 1.0))[:, None],
        ]
        if self.numeric_attrs:
            parts.append(_signed_log(self.attributes.means(n, items)) / 5.0)
        return np.concatenate(parts, axis=1).astype(np.float32)

    def _next_items(self, user: int, last: int) -> tuple[np.ndarray, np.ndarray]:
        """Sparse TRANS_DIM features: transitions out of ``last`` and its other users' recent items."""
        if last < 0:
            return np.zeros(0, dtype=np.int64), np.zeros((0, TRANS_DIM), np.float32)
        store = self.store
        nxt, cnt = store.cooccurrence(last)
        trans = np.zeros((len(nxt), TRANS_DIM), np.float32)
        trans[:, 0] = np.log1p(cnt) / 3.0
        trans[:, 1] = cnt / max(float(cnt.sum()), 1.0)
        parts = [(nxt, trans)]
        if self.n_cousers:
            inb = store.item_neighbours(last, self.n_cousers)
            others = np.unique(inb.index[inb.index != user])
            if len(others):
                used = np.concatenate([store.user_neighbours(int(v), 5).index for v in others])
                co_items, co_cnt = np.unique(used, return_counts=True)
                co = np.zeros((len(co_items), TRANS_DIM), np.float32)
                co[:, 2] = np.log1p(co_cnt) / 3.0
                co[:, 3] = co_cnt / len(others)
                parts.append((co_items, co))
        return _merge_sparse(parts)

    def query(self, user: int | None, t: float, items: np.ndarray | None = None) -> Query:
        """Features of ``user`` (dense index, ``None``/-1/unknown = new user) at time ``t``.

        ``items``: compute the dense item features only for these (sorted) items -- for a large catalogue,
        where only retrieved candidates are ranked; ``None`` = every known item.
        """
        store = self.store
        n = store.n_items
        rows = None if items is None else np.asarray(items, dtype=np.int64)
        item_x = self.item_state(t, n, rows)
        known_user = user is not None and 0 <= user < store.n_users
        if not known_user:
            empty_i = np.zeros(0, dtype=np.int64)
            empty_f = np.zeros(0, dtype=np.float32)
            ctx = np.zeros(CTX_DIM, dtype=np.float32)
            ctx[3] = 1.0  # new user
            ctx[4] = 1.0  # "every event so far was new"
            return Query(
                -1, t, n, ctx, item_x, empty_i, np.zeros((0, PAIR_DIM), np.float32), empty_i,
                np.zeros((0, TRANS_DIM), np.float32), empty_i, empty_f, empty_f, rows,
            )
        assert user is not None
        ps = store.user_item_stats(user)
        nb = store.user_neighbours(user, max(self.n_recent, self.n_neighbours))
        deg = store.degree_user(user)
        last = int(nb.index[0]) if len(nb) else -1

        # the user's recent sequence, oldest first, with consecutive repeats collapsed into runs
        seq = nb.index[: self.n_recent][::-1]
        runs = seq[np.r_[True, seq[1:] != seq[:-1]]] if len(seq) else seq
        succ = runs[1:][runs[:-1] == last] if len(runs) > 1 else runs[:0]
        succ_items, succ_counts = np.unique(succ, return_counts=True)
        rec_items, rec_counts = np.unique(seq, return_counts=True)

        H = len(ps)
        items = ps.item
        count = ps.count.astype(np.float64)
        rank = np.arange(H, dtype=np.float64)  # ps is most recent first
        hist_x = np.zeros((H, PAIR_DIM), dtype=np.float32)
        hist_x[:, 0] = np.log1p(count) / 3.0
        hist_x[:, 1] = _log_t(t - ps.last_ts)
        hist_x[:, 2] = 1.0 / (1.0 + rank)
        hist_x[:, 3] = np.log1p(rank) / 4.0
        hist_x[:, 4] = items == last
        hist_x[:, 5] = count / max(deg, 1)
        hist_x[:, 6] = _log_t(t - ps.first_ts)
        hist_x[:, 7] = np.log1p(np.maximum(ps.weight_sum, 0.0)) / 3.0
        hist_x[:, 8] = np.log1p(_lookup(items, succ_items, succ_counts)) / 2.0
        hist_x[:, 9] = _lookup(items, succ_items, succ_counts) / max(len(succ), 1)
        hist_x[:, 10] = _lookup(items, rec_items, rec_counts) / max(len(seq), 1)
        # did anyone use the item after this user last did (e.g. someone else edited "my" page)?
        item_last = self.popularity.last_ts(n, items.clip(0, max(n - 1, 0))) if n else ps.last_ts
        hist_x[:, 11] = item_last > ps.last_ts
        hist_x[:, 12] = _log_t(item_last - ps.last_ts)
        # how many events by others since then, for the most recent few (an edit war, a reply, ...)
        for j in range(min(H, self.n_touched)):
            if hist_x[j, 11]:
                inb = store.item_neighbours(int(items[j]), self.n_recent)
                hist_x[j, 13] = np.count_nonzero((inb.ts > ps.last_ts[j]) & (inb.index != user)) / 10.0

        ctx = np.zeros(CTX_DIM, dtype=np.float32)
        ctx[0] = math.log1p(deg) / 5.0
        ctx[1] = _log_t(t - float(ps.last_ts[0])) if H else 0.0
        ctx[2] = math.log1p(H) / 5.0
        ctx[3] = 0.0
        ctx[4] = H / max(deg, 1)  # share of events that were new items: exploration rate
        ctx[5] = _log_t(t - float(ps.first_ts.min())) if H else 0.0
        ctx[6] = len(rec_items) / max(len(seq), 1)  # same, over the recent window
        ctx[7] = len(succ) / max(len(runs) - 1, 1)  # how often the last item was left for another
        # the current run on the last item, and the user's usual gap between events
        run = len(seq) - int(np.flatnonzero(np.r_[True, seq[1:] != seq[:-1]])[-1]) if len(seq) else 0
        ctx[8] = math.log1p(run) / 3.0
        gaps = np.diff(nb.ts[: self.n_recent][::-1])
        ctx[9] = float(np.mean(_log_t(gaps))) if len(gaps) else 0.0
        ctx[10] = ctx[1] - ctx[9]

        trans_item, trans_x = self._next_items(int(user), last)

        k = self.n_neighbours
        return Query(
            int(user), t, n, ctx, item_x, items, hist_x, trans_item, trans_x,
            nb.index[:k].astype(np.int64), (t - nb.ts[:k]).astype(np.float32), nb.weight[:k].astype(np.float32),
            rows,
        )


def _merge_sparse(parts: Sequence[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Sum sparse ``(items, rows)`` parts into one with unique items."""
    items = np.concatenate([p[0] for p in parts]).astype(np.int64)
    rows = np.concatenate([p[1] for p in parts]).astype(np.float32)
    uniq, inv = np.unique(items, return_inverse=True)
    out = np.zeros((len(uniq), rows.shape[1]), dtype=np.float32)
    np.add.at(out, inv, rows)
    return uniq, out


def _lookup(keys: np.ndarray, sorted_keys: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` at the positions of ``keys`` in ``sorted_keys`` (0 where absent)."""
    if len(sorted_keys) == 0:
        return np.zeros(len(keys))
    pos = np.searchsorted(sorted_keys, keys).clip(0, len(sorted_keys) - 1)
    return np.where(sorted_keys[pos] == keys, values[pos], 0).astype(np.float64)


def collate(queries: Sequence[Query], cand: np.ndarray, item_dim: int, n_neighbours: int) -> QueryBatch:
    """Stack queries over the shared candidate items ``cand`` (sorted, unique item indices)."""
    B, N = len(queries), len(cand)
    cand = np.asarray(cand, dtype=np.int64)
    n_total = int(cand.max()) + 1 if N else 0
    for q in queries:
        n_total = max(n_total, q.n_known, int(q.hist_item.max(initial=-1)) + 1, int(q.trans_item.max(initial=-1)) + 1)
    pos = np.full(n_total, -1, dtype=np.int64)
    pos[cand] = np.arange(N)
    base_dim = item_dim - TRANS_DIM
    item_x = np.zeros((B, N, item_dim), dtype=np.float32)
    pair_x = np.zeros((B, N, PAIR_DIM), dtype=np.float32)
    pair_mask = np.zeros((B, N), dtype=bool)
    known = cand[None, :] < np.array([q.n_known for q in queries], dtype=np.int64)[:, None]
    full = N > 0 and cand[0] == 0 and cand[-1] == N - 1  # cand is 0..N-1: plain slicing
    K = n_neighbours
    nbr_item = np.full((B, K), -1, dtype=np.int64)
    nbr_dt = np.zeros((B, K), dtype=np.float32)
    nbr_w = np.zeros((B, K), dtype=np.float32)
    described = np.ones((B, N), dtype=bool)  # has row b item features for candidate n?
    for b, q in enumerate(queries):
        if q.item_rows is not None:  # features for some items only: the others are not candidates of row b
            p = pos[q.item_rows]  # item_rows < n_known <= n_total
            ok = p >= 0
            item_x[b, p[ok], :base_dim] = q.item_x[ok]
            described[b] = False
            described[b, p[ok]] = True
        elif full:
            m = min(q.n_known, N)
            item_x[b, :m, :base_dim] = q.item_x[:m]
        else:
            sel = cand < q.n_known
            item_x[b, sel, :base_dim] = q.item_x[cand[sel]]
        if len(q.trans_item):
            p = pos[q.trans_item]
            ok = p >= 0
            item_x[b, p[ok], base_dim:] = q.trans_x[ok]
        if len(q.hist_item):
            p = pos[q.hist_item]
            ok = p >= 0
            pair_x[b, p[ok]] = q.hist_x[ok]
            pair_mask[b, p[ok]] = True
        k = min(len(q.nbr_item), K)
        nbr_item[b, :k] = q.nbr_item[:k]
        nbr_dt[b, :k] = q.nbr_dt[:k]
        nbr_w[b, :k] = q.nbr_w[:k]
    known &= described
    pair_mask &= known
    return QueryBatch(
        user=torch.tensor([q.user for q in queries], dtype=torch.long),
        t=torch.tensor([q.t for q in queries], dtype=torch.float64),
        ctx=torch.from_numpy(np.stack([q.ctx for q in queries])) if B else torch.zeros(0, CTX_DIM),
        cand=torch.from_numpy(cand),
        item_x=torch.from_numpy(item_x),
        pair_x=torch.from_numpy(pair_x),
        pair_mask=torch.from_numpy(pair_mask),
        known=torch.from_numpy(known),
        nbr_item=torch.from_numpy(nbr_item),
        nbr_dt=torch.from_numpy(nbr_dt),
        nbr_w=torch.from_numpy(nbr_w),
    )
