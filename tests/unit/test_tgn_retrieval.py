"""Retrieve-then-rank for catalogues above ``max_candidates``: the same scores where it ranks, a full ranking."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from models.evaluation.protocol import encode_arrays
from models.tgn import TGNRecommender
from models.tgn.retrieval import plan_chunks, user_candidates

SMALL = dict(memory_dim=8, time_dim=8, embedding_dim=8, hidden=16, item_hidden=8, n_neighbours=4, n_recent=20,
             epochs=0, n_popular=5)


@pytest.fixture(scope="module")
def rec() -> TGNRecommender:
    """A TGN with random (non-zero) weights over 400 items, so every learned term contributes."""
    torch.set_num_threads(1)
    rng = np.random.default_rng(3)
    n = 3000
    users = rng.integers(0, 40, n)
    # a long tail: a few items are popular, most are rare
    items = np.minimum(rng.zipf(1.3, n), 400) - 1
    ts = np.cumsum(rng.exponential(20.0, n)).round()
    s = encode_arrays(users.tolist(), items.tolist(), ts.tolist())
    r = TGNRecommender(**SMALL, seed=1)
    with torch.no_grad():
        gen = torch.Generator().manual_seed(0)
        for p in r.model.parameters():
            p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
    for u, i, t in zip(s.users.tolist(), s.items.tolist(), s.ts.tolist()):
        r.learn_one(u, i, t)
    r.flush_memory()
    r.t_end = float(s.ts[-1]) + 30.0
    return r


def _scores(rec: TGNRecommender, users: list[int], max_candidates: int) -> np.ndarray:
    before = rec.max_candidates
    rec.max_candidates = max_candidates
    try:
        return rec.score_many(users, [rec.t_end] * len(users), rec.store.n_items)
    finally:
        rec.max_candidates = before


def test_retrieved_candidates_keep_their_exact_scores_and_the_rest_rank_below(rec):
    users = list(range(0, 40, 3))
    n = rec.store.n_items
    assert n > 100
    dense = _scores(rec, users, max_candidates=10**6)
    retrieved = _scores(rec, users, max_candidates=100)
    assert retrieved.shape == dense.shape == (len(users), n)
    assert np.isfinite(retrieved).all()
    for row, u in enumerate(users):
        q = rec.features.query(u, rec.t_end, items=np.zeros(0, dtype=np.int64))
        own = user_candidates(q, max_own=25)
        assert len(own) > 0
        np.testing.assert_allclose(retrieved[row, own], dense[row, own], rtol=1e-5, atol=1e-5)
        # whatever was not ranked by the model sits below everything that was
        ranked = np.isclose(retrieved[row], dense[row], rtol=1e-5, atol=1e-5)
        assert ranked.sum() < n  # something was left out: the catalogue is over the budget
        assert retrieved[row, ~ranked].max() < retrieved[row, ranked].min()


def test_the_top_of_the_list_agrees_with_full_ranking(rec):
    users = list(range(40))
    dense = _scores(rec, users, max_candidates=10**6)
    retrieved = _scores(rec, users, max_candidates=100)
    same = [len(set(np.argsort(-d)[:5]) & set(np.argsort(-r)[:5])) for d, r in zip(dense, retrieved)]
    # the user's recent items and the popular ones carry the top of this model's lists
    assert np.mean(same) >= 4.0


def test_chunks_cover_every_query_once_within_budget(rec):
    none = np.zeros(0, dtype=np.int64)
    queries = [rec.features.query(u, rec.t_end, items=none) for u in range(40)]
    shared = np.arange(10)
    chunks = plan_chunks(queries, shared, budget=60, max_own=15)
    rows = [r for rs, _ in chunks for r in rs]
    assert sorted(rows) == list(range(40))
    for rs, cand in chunks:
        assert set(shared) <= set(cand.tolist())
        assert len(cand) <= 60 or len(rs) == 1
        for r in rs:
            assert set(user_candidates(queries[r], 15).tolist()) <= set(cand.tolist())
