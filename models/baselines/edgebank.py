"""``edgebank``: has the user interacted with the item before? (EdgeBank, unlimited memory)."""
from __future__ import annotations

import numpy as np

from models.base import Recommender


class EdgeBank(Recommender):
    """Score 1 for items the user has interacted with before, 0 otherwise.

    Ties are the point: the evaluation counts them as the expected rank under a random tie-break,
    which is what makes this the "memorization only" reference (Poursafaei et al., NeurIPS 2022).

    Examples
    --------
    >>> model = EdgeBank()
    >>> model.learn_one(user=0, item=2, t=0.0)
    >>> model.score(user=0, t=1.0, n_items=3).tolist(), model.score(user=1, t=1.0, n_items=3).tolist()
    ([0.0, 0.0, 1.0], [0.0, 0.0, 0.0])
    """

    name = "edgebank"

    def __init__(self) -> None:
        self._seen: dict[int, set[int]] = {}

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self._seen.setdefault(user, set()).add(item)

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        scores = np.zeros(n_items)
        seen = self._seen.get(user)
        if seen:
            items = np.fromiter(seen, dtype=np.int64, count=len(seen))
            scores[items[items < n_items]] = 1.0
        return scores
