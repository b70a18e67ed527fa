"""``cooccur``: what users moved to next after the item this user touched last, then popularity."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.base import Recommender
from models.baselines.pop import DAY, HOUR, Pop, popularity_share


class Cooccur(Recommender):
    """Item-to-item transition counts from the user's last item, plus popularity.

    Every event (u, j) whose user's previous item was i adds its weight to the transition count
    ``c[i, j]`` (all users pooled; ``i == j`` counts too). The score of item j for a user whose last item
    is i is ``c[i, j] + 0.5 * share_j``, where ``share_j`` in [0, 1] is j's share of the time-decayed
    popularity (:class:`Pop`): transitions lead, popularity orders the rest and breaks ties. With
    ``exclude_seen`` the user's own past items are moved below all others (keeping their order).

    Parameters
    ----------
    tau
        Popularity time scale in seconds.
    exclude_seen
        Rank the user's past items last (a "discovery" recommender) instead of alongside the rest.

    Examples
    --------
    >>> model = Cooccur(tau=math.inf)
    >>> for user, item in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 2), (2, 2), (2, 2)]:
    ...     model.learn_one(user=user, item=item, t=0.0)
    >>> model.learn_one(user=3, item=0, t=0.0)
    >>> [item for item, _ in model.rank(user=3, t=1.0, n_items=3, k=3)]   # 0 -> 1 twice
    [1, 2, 0]
    """

    name = "cooccur"

    def __init__(self, tau: float = DAY, exclude_seen: bool = False) -> None:
        self.tau = tau
        self.exclude_seen = exclude_seen
        self._pop = Pop(tau=tau)
        self._last_item: dict[int, int] = {}
        self._next: dict[int, dict[int, float]] = {}  # previous item -> next item -> summed weight
        self._seen: dict[int, set[int]] = {}

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self._pop.learn_one(user, item, t, weight)
        prev = self._last_item.get(user)
        if prev is not None:
            row = self._next.setdefault(prev, {})
            row[item] = row.get(item, 0.0) + weight
        self._last_item[user] = item
        if self.exclude_seen:
            self._seen.setdefault(user, set()).add(item)

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        scores = 0.5 * popularity_share(self._pop.log_popularity(t, n_items))
        prev = self._last_item.get(user)
        row = self._next.get(prev) if prev is not None else None
        if row:
            items = np.fromiter(row.keys(), dtype=np.int64, count=len(row))
            counts = np.fromiter(row.values(), dtype=np.float64, count=len(row))
            keep = items < n_items
            scores[items[keep]] += counts[keep]
        seen = self._seen.get(user) if self.exclude_seen else None
        if seen and n_items:
            items = np.fromiter(seen, dtype=np.int64, count=len(seen))
            items = items[items < n_items]
            scores[items] -= scores.max() - scores.min() + 1.0
        return scores

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{"tau": tau, "exclude_seen": ex} for ex in (False, True) for tau in (HOUR, DAY, math.inf)]
