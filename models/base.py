"""The one interface every recommender implements: baselines, the serving heuristic and the TGN.

Items and users are dense integer indices (assigned in order of first appearance, see
``graph_store.IdMap``). A recommender scores *all known items* for a user at a query time, and learns
from one event at a time. The caller always scores before it learns (test-then-learn), so an event never
sees itself: ``score(u, t)`` must depend only on events passed to ``learn_one`` earlier.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Sequence

import numpy as np


class Recommender(ABC):
    """Online top-K recommender over dense user / item indices.

    Subclasses store every hyperparameter as an ``__init__`` argument under its own name (river style)
    and may offer ``param_grid()``: candidate hyperparameters the evaluation harness chooses among on the
    validation span.
    """

    #: Short model name used by the CLI (``--models pop,recency_pop``) and in reports.
    name: ClassVar[str] = "recommender"

    @abstractmethod
    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        """Scores (higher is better) for items ``0..n_items-1`` for ``user`` at time ``t``.

        ``user`` may be new (never learned). Returns a float array of length ``n_items``.
        """

    @abstractmethod
    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        """Update state with one observed event (after it has been scored)."""

    def score_many(self, users: Sequence[int], ts: Sequence[float], n_items: int) -> np.ndarray:
        """Scores for several (user, t) queries at once, shape ``(len(users), n_items)``.

        The default loops over :meth:`score`; models with batched inference (the TGN) override it.
        All queries see the same state: callers only batch queries that no learned event separates.
        """
        if len(users) == 0:
            return np.zeros((0, n_items), dtype=np.float64)
        return np.stack([self.score(u, t, n_items) for u, t in zip(users, ts)])

    def learn_many(
        self, users: Sequence[int], items: Sequence[int], ts: Sequence[float], weights: Sequence[float] | None = None
    ) -> None:
        """Learn several events in order. The default loops over :meth:`learn_one`."""
        if weights is None:
            weights = [1.0] * len(users)
        for u, i, t, w in zip(users, items, ts, weights):
            self.learn_one(int(u), int(i), float(t), float(w))

    def rank(self, user: int, t: float, n_items: int, k: int = 10) -> list[tuple[int, float]]:
        """Top-``k`` ``(item, score)`` pairs, best first (ties broken by lower index)."""
        return top_k(self.score(user, t, n_items), k)

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        """Hyperparameter candidates for validation-span selection; ``[{}]`` means nothing to choose."""
        return [{}]


def top_k(scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """Indices and values of the ``k`` largest scores, best first, ties by lower index.

    >>> top_k(np.array([0.1, 0.9, 0.5, 0.9]), 3)
    [(1, 0.9), (3, 0.9), (2, 0.5)]
    """
    n = len(scores)
    if n == 0 or k <= 0:
        return []
    k = min(k, n)
    idx = np.argpartition(-scores, k - 1)[:k] if k < n else np.arange(n)
    idx = idx[np.lexsort((idx, -scores[idx]))]
    return [(int(i), float(scores[i])) for i in idx]
