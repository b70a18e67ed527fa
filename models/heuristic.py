"""The first serving scorer: the user's recent items, time-decayed popularity and item co-occurrence.

It reads everything from the serving graph (:class:`graph_store.GraphStore`), so what a worker serves and
what ``streamrec evaluate --models heuristic`` measures is the same code over the same state.

Score layout (higher is better), all terms bounded so the order of tiers is explicit:

* the user's own past items: ``2 + 1 / (1 + recency_rank)`` -- most recent first (the strongest signal on
  data where users repeat, e.g. 0.82 MRR on Wikipedia for this tier alone);
* every item: ``pop_weight * pop / max(pop)`` (in ``[0, pop_weight]``) plus
  ``cooccur_weight * share of transitions from the user's last item`` (in ``[0, cooccur_weight]``).

With the defaults (``pop_weight + cooccur_weight <= 1``) past items always precede new ones, as in
``recency_pop``; ``exclude_seen=True`` drops past items instead (for catalogues where repeats are rare).
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
    exclude_seen
        Score the user's past items ``-inf`` instead of boosting them.
    """

    name = "heuristic"

    def __init__(
        self,
        store: _GraphReads | None = None,
        pop_weight: float = 0.5,
        cooccur_weight: float = 0.5,
        exclude_seen: bool = False,
    ) -> None:
        self.owns_store = store is None
        if store is None:
            from graph_store import MemoryGraphStore

            store = MemoryGraphStore()
        self.store = store
        self.pop_weight = pop_weight
        self.cooccur_weight = cooccur_weight
        self.exclude_seen = exclude_seen

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        return self.score_with(user, self.store.item_popularity(t), n_items)

    def score_with(self, user: int | None, popularity: np.ndarray, n_items: int) -> np.ndarray:
        """Scores given a popularity vector already computed for the query time (shared by a batch)."""
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

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        if self.owns_store:
            from graph_store.events import Interaction

            applied = self.store.apply([Interaction(str(user), str(item), t, weight=weight)])[0]  # type: ignore[attr-defined]
            assert applied is None or (applied.user == user and applied.item == item), "dense ids diverged"

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{"exclude_seen": False}, {"exclude_seen": True}]
