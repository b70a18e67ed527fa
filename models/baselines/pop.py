"""``pop``: time-decayed item popularity, the same list for every user."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from models.base import Recommender

HOUR = 3600.0
DAY = 24 * HOUR
WEEK = 7 * DAY


class Pop(Recommender):
    """Item popularity decayed over time: ``pop_i(t) = sum_e w_e exp(-(t - t_e) / tau)`` over i's events.

    Each item keeps its decayed sum and the time it refers to, updated lazily when the item is learned,
    so an update is O(1) and scoring all items is one vectorized expression. Scores are
    ``log pop_i(t)`` (same order, no underflow for long-idle items); items never learned score ``-inf``.
    ``tau = inf`` gives plain counts. Event weights should be positive.

    Parameters
    ----------
    tau
        Decay time scale in seconds (the ``e``-folding time), chosen on the validation span.

    Examples
    --------
    >>> model = Pop(tau=10.0)
    >>> for item, t in [(0, 0.0), (0, 1.0), (1, 9.0)]:
    ...     model.learn_one(user=0, item=item, t=t)
    >>> [round(float(s), 3) for s in np.exp(model.score(user=5, t=10.0, n_items=3))]
    [0.774, 0.905, 0.0]
    """

    name = "pop"

    def __init__(self, tau: float = HOUR) -> None:
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        self.tau = tau
        self._value = np.zeros(0, dtype=np.float64)  # decayed sum, referred to self._ref
        self._ref = np.zeros(0, dtype=np.float64)

    def _grow(self, n: int) -> None:
        size = max(n, 2 * len(self._value), 16)
        self._value = np.concatenate([self._value, np.zeros(size - len(self._value))])
        self._ref = np.concatenate([self._ref, np.zeros(size - len(self._ref))])

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        if item >= len(self._value):
            self._grow(item + 1)
        value = float(self._value[item])
        if value != 0.0:
            value *= math.exp(-(t - float(self._ref[item])) / self.tau)
        self._value[item] = value + weight
        self._ref[item] = t

    def log_popularity(self, t: float, n_items: int) -> np.ndarray:
        """``log pop_i(t)`` for items ``0..n_items-1`` (``-inf`` for items with nothing learned)."""
        out = np.full(n_items, -np.inf)
        m = min(n_items, len(self._value))
        value = self._value[:m]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log(value) - (t - self._ref[:m]) / self.tau
        out[:m] = np.where(value > 0, logs, -np.inf)
        return out

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        return self.log_popularity(t, n_items)

    @classmethod
    def param_grid(cls) -> list[dict[str, Any]]:
        return [{"tau": tau} for tau in (HOUR, 6 * HOUR, DAY, WEEK, math.inf)]


def popularity_share(log_pop: np.ndarray) -> np.ndarray:
    """Popularities as shares of their total, in ``[0, 1]`` (zeros when nothing is popular yet).

    >>> popularity_share(np.array([0.0, np.log(3.0), -np.inf]))
    array([0.25, 0.75, 0.  ])
    """
    finite = np.isfinite(log_pop)
    if not finite.any():
        return np.zeros(len(log_pop))
    w = np.exp(log_pop - log_pop[finite].max())
    return w / w.sum()
