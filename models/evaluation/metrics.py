"""Ranks under the tie rule, and the ranking metrics computed from them (overall, by pair type, over time).

Every figure streamrec reports is computed here from two integers per scored event: ``higher`` (known
items scored above the true item) and ``equal`` (other known items scored the same). The rank is the
expected rank under a random tie-break, ``1 + higher + equal / 2``; a true item never seen before is ranked
after every known item (``higher = n_known``, ``equal = 0``).

Metrics use that (possibly fractional) expected rank directly: reciprocal rank ``1 / rank``, a hit at
``k`` when ``rank <= k``, NDCG@k ``1 / log2(1 + rank)`` when ``rank <= k``. (This is the definition that
reproduces the reference figures in ARCHITECTURE.md; the alternative, the hit probability
``P(rank <= k)`` under a random tie-break, differs by a few thousandths on Wikipedia.)

>>> import numpy as np
>>> rank_of(np.array([0.2, 0.9, 0.2, 0.2]), true_item=0, n_known=4)  # 1 higher, 2 tied
3.0
>>> rank_of(np.array([0.2, 0.9]), true_item=2, n_known=2)            # never seen: after every known item
3.0
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: Cut-offs reported for Recall (ARCHITECTURE.md): Recall@1/10/20 and NDCG@10.
RECALL_KS: tuple[int, ...] = (1, 10, 20)
NDCG_K = 10


def rank_counts(scores: np.ndarray, true_item: int, n_known: int) -> tuple[int, int]:
    """``(higher, equal)`` for ``true_item`` among items ``0..n_known-1`` of ``scores``.

    ``equal`` excludes the true item itself. A true item outside the known items (``true_item >=
    n_known``: never seen before) gets ``(n_known, 0)``: after every known item, no ties. NaN scores
    count as ``-inf``.

    >>> rank_counts(np.array([1.0, 3.0, 1.0, 5.0]), 0, 4)
    (2, 1)
    >>> rank_counts(np.array([1.0, 3.0, 1.0, 5.0]), 0, 1)   # only item 0 is known yet
    (0, 0)
    """
    if true_item >= n_known:
        return n_known, 0
    known = np.asarray(scores)[:n_known]
    if len(known) < n_known:
        raise ValueError(f"got {len(known)} scores for {n_known} known items")
    if np.isnan(known).any():  # a diverged model: NaN ranks below everything, never helps
        known = np.where(np.isnan(known), -np.inf, known)
    x = known[true_item]
    higher = int(np.count_nonzero(known > x))
    equal = int(np.count_nonzero(known == x)) - 1
    return higher, equal


def rank_of(scores: np.ndarray, true_item: int, n_known: int) -> float:
    """Expected rank (1 = best) of ``true_item`` under a random tie-break among the known items.

    ``1 + #higher + #equal / 2``; ``n_known + 1`` for an item never seen before.

    >>> rank_of(np.array([0.5, 0.5, 0.5]), 1, 3)
    2.0
    """
    higher, equal = rank_counts(scores, true_item, n_known)
    return float(expected_rank(higher, equal))


def expected_rank(higher, equal):
    """``1 + higher + equal / 2`` (scalars or arrays).

    >>> expected_rank(np.array([0, 3]), np.array([1, 0]))
    array([1.5, 4. ])
    """
    return 1.0 + np.asarray(higher, dtype=np.float64) + np.asarray(equal, dtype=np.float64) / 2.0


@dataclass(frozen=True)
class RankingMetrics:
    """MRR, Recall@k and NDCG@10 of a set of scored events (NaN when the set is empty)."""

    n: int
    mrr: float
    recall: dict[int, float]
    ndcg10: float

    def as_dict(self) -> dict[str, float | int]:
        """Flat JSON-ready mapping: ``n, mrr, recall@1, recall@10, recall@20, ndcg@10``."""
        out: dict[str, float | int] = {"n": self.n, "mrr": self.mrr}
        out.update({f"recall@{k}": v for k, v in self.recall.items()})
        out[f"ndcg@{NDCG_K}"] = self.ndcg10
        return out


def ranking_metrics(ranks: np.ndarray, ks: Sequence[int] = RECALL_KS) -> RankingMetrics:
    """Metrics of expected ranks ``ranks`` (see module docstring for the definitions).

    >>> m = ranking_metrics(np.array([1.0, 2.0, 4.0, 11.0]))
    >>> round(m.mrr, 4), m.recall[1], m.recall[10], round(m.ndcg10, 4)
    (0.4602, 0.25, 0.75, 0.5154)
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    n = int(len(ranks))
    if n == 0:
        nan = float("nan")
        return RankingMetrics(0, nan, {k: nan for k in ks}, nan)
    mrr = float(np.mean(1.0 / ranks))
    recall = {int(k): float(np.mean(ranks <= k)) for k in ks}
    gains = np.where(ranks <= NDCG_K, 1.0 / np.log2(1.0 + ranks), 0.0)
    return RankingMetrics(n, mrr, recall, float(np.mean(gains)))


@dataclass(frozen=True)
class Window:
    """Metrics of one slice of the scored span (consecutive events, equal counts)."""

    start: int  # first event position in the stream
    stop: int  # one past the last
    t_start: float
    t_stop: float
    metrics: RankingMetrics
    repeat_share: float

    def as_dict(self) -> dict:
        return {
            "start": self.start,
            "stop": self.stop,
            "t_start": self.t_start,
            "t_stop": self.t_stop,
            "repeat_share": self.repeat_share,
            **self.metrics.as_dict(),
        }


def windows(
    ranks: np.ndarray, positions: np.ndarray, ts: np.ndarray, repeat: np.ndarray, n_windows: int
) -> list[Window]:
    """Metrics per slice of the scored events, cut into ``n_windows`` consecutive slices of equal count.

    Equal event counts (not equal time) keep every window's figure equally reliable; each window
    carries its time range for plotting.

    >>> w = windows(np.array([1.0, 1.0, 2.0, 4.0]), np.arange(4), np.array([0., 1., 2., 3.]),
    ...             np.array([True, True, False, False]), 2)
    >>> [(x.start, x.stop, x.metrics.mrr, x.repeat_share) for x in w]
    [(0, 2, 1.0, 1.0), (2, 4, 0.375, 0.0)]
    """
    out = []
    n = len(ranks)
    if n == 0 or n_windows <= 0:
        return out
    for idx in np.array_split(np.arange(n), min(n_windows, n)):
        out.append(
            Window(
                start=int(positions[idx[0]]),
                stop=int(positions[idx[-1]]) + 1,
                t_start=float(ts[idx[0]]),
                t_stop=float(ts[idx[-1]]),
                metrics=ranking_metrics(ranks[idx]),
                repeat_share=float(np.mean(repeat[idx])),
            )
        )
    return out


def summarize(
    ranks: np.ndarray,
    repeat: np.ndarray,
    positions: np.ndarray,
    ts: np.ndarray,
    n_windows: int = 10,
    ks: Sequence[int] = RECALL_KS,
) -> dict:
    """Everything reported for one scored span: overall, repeat pairs, new pairs, and windows over time.

    >>> out = summarize(np.array([1.0, 2.0, 4.0]), np.array([True, True, False]), np.arange(3),
    ...                 np.array([0.0, 1.0, 2.0]), n_windows=1)
    >>> out["overall"]["mrr"], out["repeat"]["mrr"], out["new"]["mrr"], out["repeat_share"]
    (0.5833333333333334, 0.75, 0.25, 0.6666666666666666)
    """
    ranks = np.asarray(ranks, dtype=np.float64)
    repeat = np.asarray(repeat, dtype=bool)
    return {
        "overall": ranking_metrics(ranks, ks).as_dict(),
        "repeat": ranking_metrics(ranks[repeat], ks).as_dict(),
        "new": ranking_metrics(ranks[~repeat], ks).as_dict(),
        "repeat_share": float(np.mean(repeat)) if len(repeat) else float("nan"),
        "windows": [w.as_dict() for w in windows(ranks, positions, ts, repeat, n_windows)],
    }
