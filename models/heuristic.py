"""The first serving scorer: the user's recent items, time-decayed popularity and item co-occurrence.

It reads everything from the serving graph (:class:`graph_store.GraphStore`), so what a worker serves and
what ``streamrec evaluate --models heuristic`` measures is the same code over the same state. It is what a
worker answers with before the first TGN arrives, so it has to be sound on any stream without training:

**Repeat-aware mixture** (the default): the next event either repeats one of the user's past items or
explores a new one, and the store itself says how often each happens. With ``r`` the user's repeat rate
(share of their events that returned to an item they had used, shrunk towards the whole graph's rate,
``prior_strength`` pseudo-events, and the graph's rate towards 1/2 likewise) the score is a probability:

* a past item at recency rank ``k`` (0 = the last one): ``r * (1 / (1 + k)) / H_n`` (``H_n`` normalises
  over the user's ``n`` past items);
* any other item: ``(1 - r) * (pop_weight * popularity share + cooccur_weight * share of transitions from
  the user's last item)``.

So where users repeat (Wikipedia: 88% of events) their past items lead, most recent first, as in
``recency_pop``; where they never do (first-time purchases, new films) those items sink below the popular
and co-occurring ones instead of filling the list with things the user is done with -- learned from the
stream, with no per-data-set switch.

``repeat_aware=False`` restores the fixed tiers: past items ``2 + 1 / (1 + rank)`` above every other item's
``pop_weight * pop / max(pop) + cooccur_weight * transition share``; ``exclude_seen=True`` drops past items.
"""
from __future__ import annotations

from typing import Any, Protocol

import numpy as np

from models.base import Recommender


class _GraphReads(Protocol):  # the subset of graph_store.GraphStore this scorer reads
    n_users: int

    def item_popularity(self, t: float) -> np.ndarray: ...
    def last_item(self, user: int) -> int | None: ...
    def cooccurrence(self, item: int) -> tuple[np.ndarray, np.ndarray]: ...
    def user_item_stats(self, user: int) -> Any: ...


class GraphHeuristic(Recommender):
    """Recent items + popularity + co-occurrence, read from the graph store.

    Parameters
    ----------
    store
        The serving graph; the worker applies events to it, so ``learn_one`` does nothing. ``None``: own an
        in-memory graph and apply learned events to it (the evaluation harness drives it by dense ids).
    pop_weight, cooccur_weight
        Weights of the popularity and co-occurrence terms.
    repeat_aware
        Mix past and new items by the learned repeat rate (see the module docstring); ``False``: past items
        always first.
    prior_strength
        Pseudo-events of the graph-wide repeat rate in each user's rate (a new user has the graph's), and
        of an even 1/2 in the graph's rate.
    exclude_seen
        Score the user's past items ``-inf`` instead (overrides ``repeat_aware``).

    Examples
    --------
    A user who always comes back gets their own items first; one who never does gets them last:

    >>> from graph_store import Interaction, MemoryGraphStore
    >>> store = MemoryGraphStore()
    >>> evs = [("loyal", "a", 0), ("loyal", "a", 1), ("loyal", "b", 2), ("loyal", "b", 3), ("loyal", "a", 4),
    ...        ("x", "c", 5), ("y", "c", 6), ("z", "c", 7)] + [("rover", f"r{n}", 8 + n) for n in range(5)]
    >>> _ = store.apply([Interaction(u, i, float(t)) for u, i, t in evs])
    >>> h = GraphHeuristic(store)
    >>> [store.item_id(i) for i, _ in h.rank(store.user_index("loyal"), 20.0, store.n_items, k=3)]
    ['a', 'b', 'c']
    >>> [store.item_id(i) for i, _ in h.rank(store.user_index("rover"), 20.0, store.n_items, k=3)]
    ['c', 'a', 'b']
    """

    name = "heuristic"

    def __init__(
        self,
        store: _GraphReads | None = None,
        pop_weight: float = 0.5,
        cooccur_weight: float = 0.5,
        repeat_aware: bool = True,
        prior_strength: float = 5.0,
        exclude_seen: bool = False,
    ) -> None:
        self.owns_store = store is None
        if store is None:
            from graph_store import MemoryGraphStore

            store = MemoryGraphStore()
        self.store = store
        self.pop_weight = pop_weight
        self.cooccur_weight = cooccur_weight
        self.repeat_aware = repeat_aware
        self.prior_strength = prior_strength
        self.exclude_seen = exclude_seen

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        return self.score_with(user, self.store.item_popularity(t), n_items)

    def repeat_rate(self, user: int | None) -> float:
        """How likely the user's next event returns to one of their items: their own share of repeat
        events, shrunk towards the graph's (``prior_strength`` pseudo-events)."""
        c = self.store.counts()
        # every pair's first event is not a repeat; neither is any user's first event. An even prior
        # (prior_strength pseudo-events at 1/2) keeps the first few events from deciding it alone.
        eligible = max(c.events - c.users, 0)
        rate = (c.events - c.edges + 0.5 * self.prior_strength) / (eligible + self.prior_strength)
        if user is None or not 0 <= user < self.store.n_users:
            return rate
        n = self.store.degree_user(user)
        repeats = n - len(self.store.user_item_stats(user))
        return (repeats + self.prior_strength * rate) / (max(n - 1, 0) + self.prior_strength)

    def score_with(self, user: int | None, popularity: np.ndarray, n_items: int) -> np.ndarray:
        """Scores given a popularity vector already computed for the query time (shared by a batch)."""
        if self.repeat_aware and not self.exclude_seen:
            return self._mixture(user, popularity, n_items)
        pop = np.asarray(popularity[:n_items], dtype=np.float64)
        scores = np.zeros(n_items, dtype=np.float64)
        top = pop.max() if n_items else 0.0
        if top > 0:
            scores += self.pop_weight * pop / top
        if user is None or not 0 <= user < self.store.n_users:  # a new user: popularity alone
            return scores
        last = self.store.last_item(user)
        if last is not None and self.cooccur_weight:
            nxt, counts = self.store.cooccurrence(last)
            keep = nxt < n_items
            if keep.any() and counts[keep].sum() > 0:
                scores[nxt[keep]] += self.cooccur_weight * counts[keep] / counts[keep].sum()
        stats = self.store.user_item_stats(user)
        items = np.asarray(stats.item)
        if len(items):
            keep = items < n_items
            items, last_ts = items[keep], np.asarray(stats.last_ts)[keep]
            if self.exclude_seen:
                scores[items] = -np.inf
            else:
                order = np.argsort(-last_ts, kind="stable")
                rank = np.empty(len(items), dtype=np.float64)
                rank[order] = np.arange(len(items))
                scores[items] = 2.0 + 1.0 / (1.0 + rank)
        return scores

    def _mixture(self, user: int | None, popularity: np.ndarray, n_items: int) -> np.ndarray:
        """``P(next = item)`` under the repeat / explore mixture of the module docstring."""
        pop = np.asarray(popularity[:n_items], dtype=np.float64)
        explore = np.zeros(n_items, dtype=np.float64)
        total = pop.sum()
        pop_w, co_w = self.pop_weight, self.cooccur_weight
        known_user = user is not None and 0 <= user < self.store.n_users
        last = self.store.last_item(user) if known_user else None
        nxt, counts = (self.store.cooccurrence(last) if last is not None and co_w else (np.zeros(0, int), np.zeros(0)))
        keep = nxt < n_items
        nxt, counts = nxt[keep], counts[keep]
        if not counts.sum() > 0:
            pop_w, co_w = pop_w + co_w, 0.0  # nothing follows the last item yet: popularity carries it all
        if total > 0:
            explore += pop_w * pop / total
        if co_w:
            explore[nxt] += co_w * counts / counts.sum()
        if not known_user:
            return explore
        stats = self.store.user_item_stats(user)
        items = np.asarray(stats.item)
        keep = items < n_items
        items, last_ts = items[keep], np.asarray(stats.last_ts)[keep]
        if not len(items):
            return explore
        r = self.repeat_rate(user)
        scores = (1.0 - r) * explore
        order = np.argsort(-last_ts, kind="stable")
        share = 1.0 / (1.0 + np.arange(len(items), dtype=np.float64))
        scores[items[order]] = r * share / share.sum()
        return scores

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        if self.owns_store:
            from graph_store.events import Interaction

            applied = self.store.apply([Interaction(str(user), str(item), t, weight=weight)])[0]  # type: ignore[attr-defined]
            assert applied is None or (applied.user == user and applied.item == item), "dense ids diverged"

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        """Nothing to choose: the served configuration is the measured one (it adapts to the stream)."""
        return [{}]
