"""``recency_pop``: the user's own past items, most recent first, then everything else by popularity."""
from __future__ import annotations

import numpy as np

from models.base import Recommender
from models.baselines.pop import DAY, Pop


class RecencyPop(Recommender):
    """The user's own past items first, most recently used first; then the other items by :class:`Pop`.

    "Most recent" is by the user's last event with the item, in stream order (a stable sort by time, so
    two events at the same second keep their order). A strong baseline wherever people repeat themselves.

    Parameters
    ----------
    tau
        Time scale of the popularity that orders the items the user has not used (1 day, fixed).

    Examples
    --------
    >>> model = RecencyPop()
    >>> for item, t in [(0, 0.0), (2, 1.0), (1, 2.0), (1, 3.0)]:   # user 0 uses 0 then 2; user 1 uses 1
    ...     model.learn_one(user=0 if item != 1 else 1, item=item, t=t)
    >>> [item for item, _ in model.rank(user=0, t=4.0, n_items=3, k=3)]
    [2, 0, 1]
    """

    name = "recency_pop"

    def __init__(self, tau: float = DAY) -> None:
        self.tau = tau
        self._pop = Pop(tau=tau)
        self._last_use: dict[int, dict[int, int]] = {}  # user -> item -> stream position of last use
        self._clock = 0

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self._pop.learn_one(user, item, t, weight)
        self._clock += 1
        self._last_use.setdefault(user, {})[item] = self._clock

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        scores = self._pop.log_popularity(t, n_items)
        used = self._last_use.get(user)
        if used:
            items = np.fromiter(used.keys(), dtype=np.int64, count=len(used))
            last = np.fromiter(used.values(), dtype=np.float64, count=len(used))
            keep = items < n_items
            finite = scores[np.isfinite(scores)]
            top = float(finite.max()) if len(finite) else 0.0
            scores[items[keep]] = top + 1.0 + last[keep]  # above every popularity score, latest highest
        return scores
