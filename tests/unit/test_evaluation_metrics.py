"""Known-answer tests of the tie rule, unseen items, the metrics, the repeat/new split and the windows."""
from __future__ import annotations

import math

import numpy as np
import pytest

from models.evaluation.metrics import rank_counts, rank_of, ranking_metrics, summarize, windows


def test_rank_counts_ties_exclude_the_true_item():
    scores = np.array([0.3, 0.7, 0.3, 0.9, 0.3])
    assert rank_counts(scores, 0, 5) == (2, 2)  # 0.7 and 0.9 above; items 2 and 4 tie
    assert rank_of(scores, 0, 5) == 1 + 2 + 2 / 2
    assert rank_of(scores, 3, 5) == 1.0  # strictly best
    assert rank_of(scores, 1, 5) == 2.0


def test_all_tied_is_the_middle_rank():
    assert rank_of(np.zeros(7), 4, 7) == 4.0  # expected rank of uniform 1..7


def test_only_known_items_compete():
    scores = np.array([0.1, 0.2, 0.9, 0.8])  # items 2, 3 not seen yet: ignored
    assert rank_of(scores, 0, 2) == 2.0
    assert rank_of(scores, 1, 2) == 1.0


def test_unseen_item_ranks_after_every_known_item():
    scores = np.array([0.1, 0.2, 0.0, 5.0])  # the model even scores item 3 highest: irrelevant
    assert rank_counts(scores, 3, 3) == (3, 0)
    assert rank_of(scores, 3, 3) == 4.0
    assert rank_of(np.zeros(0), 0, 0) == 1.0  # nothing known at all


def test_minus_infinity_scores_are_ordinary_ties():
    scores = np.array([-np.inf, 1.0, -np.inf])
    assert rank_of(scores, 0, 3) == 2.5


def test_nan_scores_count_as_lowest_and_short_vectors_are_errors():
    assert rank_of(np.array([np.nan, 1.0, np.nan]), 0, 3) == 2.5  # tied with the other NaN, below 1.0
    assert rank_of(np.array([2.0, np.nan, 1.0]), 2, 3) == 2.0
    with pytest.raises(ValueError):
        rank_of(np.array([1.0]), 0, 2)


def test_metrics_on_fractional_ranks():
    ranks = np.array([1.5, 10.0, 10.5, 3.0])
    m = ranking_metrics(ranks)
    assert m.n == 4
    assert m.mrr == pytest.approx((1 / 1.5 + 1 / 10 + 1 / 10.5 + 1 / 3) / 4)
    assert m.recall[1] == 0.0  # 1.5 is not a hit at 1
    assert m.recall[10] == 0.75  # 1.5, 10, 3 (10 <= 10 counts; 10.5 does not)
    assert m.recall[20] == 1.0
    assert m.ndcg10 == pytest.approx((1 / math.log2(2.5) + 1 / math.log2(11) + 1 / math.log2(4)) / 4)


def test_empty_metrics_are_nan():
    m = ranking_metrics(np.zeros(0))
    assert m.n == 0 and math.isnan(m.mrr) and math.isnan(m.recall[10])


def test_windows_are_consecutive_equal_count_slices():
    ranks = np.array([1.0, 2.0, 4.0, 1.0, 5.0])
    ts = np.array([10.0, 11.0, 12.0, 20.0, 30.0])
    rep = np.array([True, False, True, True, False])
    w = windows(ranks, np.arange(100, 105), ts, rep, 2)
    assert [(x.start, x.stop) for x in w] == [(100, 103), (103, 105)]
    assert [(x.t_start, x.t_stop) for x in w] == [(10.0, 12.0), (20.0, 30.0)]
    assert w[0].metrics.mrr == pytest.approx((1 + 0.5 + 0.25) / 3)
    assert w[1].metrics.mrr == pytest.approx((1 + 0.2) / 2)
    assert w[0].repeat_share == pytest.approx(2 / 3)
    assert len(windows(ranks, np.arange(5), ts, rep, 10)) == 5  # never an empty window


def test_summary_splits_repeat_and_new_pairs():
    ranks = np.array([1.0, 4.0, 2.0, 8.0])
    rep = np.array([True, False, True, False])
    out = summarize(ranks, rep, np.arange(4), np.arange(4.0), n_windows=2, ks=(1, 5))
    assert out["repeat"]["mrr"] == pytest.approx(0.75)
    assert out["new"]["mrr"] == pytest.approx((0.25 + 0.125) / 2)
    assert out["overall"]["recall@5"] == 0.75
    assert out["repeat"]["n"] == 2 and out["new"]["n"] == 2
    assert out["repeat_share"] == 0.5
    assert [w["n"] for w in out["windows"]] == [2, 2]
