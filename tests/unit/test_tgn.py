"""The TGN recommender: shapes, determinism, no leakage, a temporal known answer, checkpoints, fine-tuning.

Everything runs on tiny graphs with tiny networks (a few seconds in all on two cores).
"""
from __future__ import annotations

import copy
import importlib
import os

import numpy as np
import pytest
import torch

from graph_store import Interaction, MemoryGraphStore
from models.baselines import Pop
from models.evaluation.protocol import ServedClock, encode_arrays, prequential, warm_up
from models.tgn import TGNRecommender, finetune, load_checkpoint, train
from models.tgn.embedding import LogTimeEncoder, QueryTimeAttention
from models.tgn.features import CTX_DIM, PAIR_DIM, FeatureBuilder, collate
from models.tgn.memory import GrowableTGNMemory
from models.tgn.training import as_interactions
from torch_geometric.nn.models.tgn import IdentityMessage, LastAggregator


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Tiny tensors: one thread is fastest, and on a shared 2-core box it avoids oversubscription."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


finetune_module = importlib.import_module("models.tgn.finetune")  # the module, not the function

SMALL = dict(memory_dim=8, time_dim=8, embedding_dim=8, hidden=16, item_hidden=8, n_neighbours=4, n_recent=20,
             batch_size=50, lr=3e-3)


def small(**kw) -> TGNRecommender:
    return TGNRecommender(**{**SMALL, **kw})


def random_events(seed: int, n: int = 300, n_users: int = 12, n_items: int = 15) -> list[tuple[int, int, float]]:
    """Dense-id events in first-appearance order (as the evaluation harness produces them)."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n)
    items = rng.integers(0, n_items, n)
    ts = np.cumsum(rng.exponential(60.0, n)).round()
    stream = encode_arrays(users.tolist(), items.tolist(), ts.tolist())
    return list(zip(stream.users.tolist(), stream.items.tolist(), stream.ts.tolist()))


def cycle_events(n_users: int = 24, rounds: int = 12, seed: int = 0) -> list[tuple[int, int, float]]:
    """Every user cycles A -> B -> C -> A ... from a random phase; users interleave in time."""
    rng = np.random.default_rng(seed)
    phase = rng.integers(0, 3, n_users)
    events, t = [], 0.0
    for r in range(rounds):
        for u in rng.permutation(n_users):
            t += float(rng.exponential(30.0)) + 1.0
            events.append((f"u{u}", f"i{(phase[u] + r) % 3}", t))
    users, items, ts = zip(*events)
    s = encode_arrays(list(users), list(items), list(ts))
    return list(zip(s.users.tolist(), s.items.tolist(), s.ts.tolist()))


def learn(rec: TGNRecommender, events) -> None:
    for u, i, t in events:
        rec.learn_one(u, i, t)


# ----------------------------------------------------------------------------------------------- shapes
def test_feature_and_model_shapes():
    store = MemoryGraphStore()
    fb = FeatureBuilder(store, n_neighbours=4)
    for u, i, t in random_events(0, n=80):
        store.apply([Interaction(str(u), str(i), t)])
        fb.observe(u, i, t)
    queries = [fb.query(0, 1e6), fb.query(-1, 1e6), fb.query(3, 1e6)]
    assert queries[0].ctx.shape == (CTX_DIM,) and queries[0].hist_x.shape[1] == PAIR_DIM
    assert len(queries[1].hist_item) == 0 and queries[1].ctx[3] == 1.0  # unknown user: empty history
    cand = np.arange(store.n_items)
    batch = collate(queries, cand, fb.item_dim, 4)
    assert batch.item_x.shape == (3, store.n_items, fb.item_dim)
    assert batch.pair_x.shape == (3, store.n_items, PAIR_DIM) and batch.nbr_item.shape == (3, 4)
    assert batch.pair_mask[0].sum() == len(queries[0].hist_item) and not batch.pair_mask[1].any()

    rec = small()
    learn(rec, random_events(0, n=80))
    rec.fit()
    out = rec.model(rec.query_batch([0, 1, 999], [1e6] * 3))
    assert out.shape == (3, rec.store.n_items) and torch.isfinite(out).all()


def test_memory_grows_and_attention_handles_no_neighbours():
    mem = GrowableTGNMemory(4, 1, 8, 8, IdentityMessage(1, 8, 8), LastAggregator())
    mem.eval()
    mem.grow(10)
    assert mem.memory.shape == (10, 8) and len(mem.msg_s_store) == 10
    mem.update_state(torch.tensor([8]), torch.tensor([9]), torch.tensor([5]), torch.ones(1, 1))
    assert mem.memory[8].abs().sum() > 0 and mem.memory[3].abs().sum() == 0
    assert "memory" not in mem.state_dict()  # state, not weights

    att = QueryTimeAttention(8, 8, 1, LogTimeEncoder(8), heads=2)
    mask = torch.tensor([[True, False], [False, False]])
    z = att(torch.randn(2, 8), torch.randn(2, 2, 8), torch.rand(2, 2) * 100, torch.ones(2, 2, 1), mask)
    assert z.shape == (2, 8) and torch.isfinite(z).all()


def test_untrained_model_is_the_recency_prior():
    """Zero-initialised learned terms: before training the user's last item comes first."""
    rec = small(epochs=0)
    learn(rec, [(0, 0, 1.0), (0, 1, 2.0), (1, 2, 3.0), (1, 2, 4.0), (0, 3, 5.0)])
    scores = rec.score(0, 6.0, 4)
    assert list(np.argsort(-scores)[:4]) == [3, 1, 0, 2]


def test_every_hyperparameter_is_a_constructor_argument_under_its_own_name():
    import inspect

    args = set(inspect.signature(TGNRecommender.__init__).parameters) - {"self", "store"}
    rec = small(epochs=0, n_touched=3)
    assert set(rec.get_params()) == args and rec.get_params()["n_touched"] == 3
    assert all(set(p) <= args for p in TGNRecommender.param_grid())


def test_dense_ids_must_follow_first_appearance():
    rec = small(epochs=0)
    with pytest.raises(ValueError, match="first appearance"):
        rec.learn_one(5, 0, 1.0)


# ----------------------------------------------------------------------------------------------- determinism
def test_same_seed_same_scores_other_seed_other_scores():
    events = random_events(1)

    def scores(seed: int) -> np.ndarray:
        rec = small(seed=seed, epochs=2)
        learn(rec, events[:200])
        return rec.score_many([0, 1, 2], [events[200][2]] * 3, rec.store.n_items)

    a, b, c = scores(0), scores(0), scores(1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


# ----------------------------------------------------------------------------------------------- no leakage
def _prequential_rows(events, cut: int, stop: int) -> list[np.ndarray]:
    rec = small(epochs=2)
    users, items, ts = (list(x) for x in zip(*events[:stop]))
    stream = encode_arrays(users, items, ts)
    rows: list[np.ndarray] = []
    warm_up(rec, stream, 0, cut)
    for e in range(cut, stop):
        rows.append(rec.score(users[e], ts[e], int(stream.n_known_items()[e])).copy())
        rec.learn_one(users[e], items[e], ts[e])
    return rows


def test_score_of_an_event_does_not_depend_on_it_or_later_events():
    """Trained on the same history, a run that stops right after scoring event e gives e the same scores
    as a run that goes on to learn e and everything after it."""
    events = random_events(2)
    full = _prequential_rows(events, cut=200, stop=260)
    for e in (200, 230):
        short = _prequential_rows(events, cut=200, stop=e + 1)
        np.testing.assert_array_equal(short[-1], full[e - 200])


def test_learning_a_future_event_on_a_clone_leaves_the_original_scores_alone():
    events = random_events(3)
    rec = small(epochs=1)
    learn(rec, events[:200])
    u, i, t = events[200]
    before = rec.score(u, t, rec.store.n_items)
    clone = copy.deepcopy(rec)
    learn(clone, events[200:240])
    assert not np.array_equal(clone.score(u, t + 1, rec.store.n_items)[: len(before)], before)
    np.testing.assert_array_equal(rec.score(u, t, rec.store.n_items), before)


@pytest.mark.parametrize("sampled", [False, True], ids=["all-items", "sampled-catalogue"])
def test_training_features_see_only_earlier_events(monkeypatch, sampled):
    """Every query the training loop builds equals the query built on a replay of the earlier events only
    (also when the catalogue is over ``max_candidates`` and each query describes a sample of items)."""
    events = as_interactions(random_events(4, n=120, n_items=30))
    seen: list = []
    import models.tgn.training as training

    real = training.collate
    monkeypatch.setattr(training, "collate", lambda qs, *a, **k: (seen.extend(qs), real(qs, *a, **k))[1])
    budget = dict(max_candidates=8, n_popular=2, n_random=3) if sampled else {}
    rec = small(epochs=0, **budget)
    result = train(rec, events, epochs=1, progress=False)
    assert np.isfinite(result.losses).all()
    assert len(seen) > 100
    assert any(q.item_rows is not None for q in seen) == sampled  # a batch starting over the budget samples
    ref = small(epochs=0, **budget)
    clock = ServedClock()
    for k, ev in enumerate(events):
        u = ref.store.user_index(ev.user_id)
        t_q = clock.query_time(ev.user_id, ev.ts)  # when the list was served: never the event's own time
        assert u is None or t_q < ev.ts or any(e.ts == ev.ts for e in events[:k])
        q = ref.features.query(-1 if u is None else u, t_q)
        if k < len(seen):
            assert seen[k].t == t_q
            np.testing.assert_array_equal(seen[k].hist_x, q.hist_x)
            rows = seen[k].item_rows
            expected = q.item_x if rows is None else ref.features.item_state(t_q, ref.store.n_items, rows)
            np.testing.assert_array_equal(seen[k].item_x, expected)
            np.testing.assert_array_equal(seen[k].ctx, q.ctx)
            np.testing.assert_array_equal(seen[k].trans_item, q.trans_item)
            np.testing.assert_array_equal(seen[k].trans_x, q.trans_x)
        ref.learn_event(ev)
        clock.observe(ev.user_id, ev.ts)


# ----------------------------------------------------------------------------------------------- known answer
def test_learns_a_cycle_that_popularity_cannot():
    """Users cycle A -> B -> C -> A: the next item is the one used least recently, so neither popularity
    nor recency gets it; after training the TGN ranks it first for most events."""
    events = cycle_events()
    cut = len(events) * 2 // 3
    users, items, ts = (list(x) for x in zip(*events))
    stream = encode_arrays(users, items, ts)

    rec = small(epochs=4, lr=1e-2, batch_size=24)
    warm_up(rec, stream, 0, cut)
    tgn = prequential(rec, stream, cut, len(events))
    pop = Pop()
    warm_up(pop, stream, 0, cut)
    base = prequential(pop, stream, cut, len(events))
    assert np.mean(tgn.ranks == 1.0) > 0.8
    assert np.mean(base.ranks == 1.0) < 0.5


# ----------------------------------------------------------------------------------------------- checkpoints
def test_checkpoint_round_trip_gives_identical_scores(tmp_path):
    events = random_events(5)
    rec = small(epochs=1)
    learn(rec, events[:250])
    rec.fit()
    path = tmp_path / "models" / "tgn.pt"
    saved = rec.save(str(path), metrics={"val_mrr": 0.5}, window={"n_events": 250})
    assert path.exists() and not [p for p in os.listdir(path.parent) if p.endswith(".tmp")]

    ckpt = load_checkpoint(path)
    assert ckpt.version == saved.version and ckpt.metrics == {"val_mrr": 0.5} and ckpt.config["memory_dim"] == 8
    loaded = TGNRecommender.from_checkpoint(str(path), store=rec.store)
    t = events[250][2]
    users = list(range(rec.store.n_users)) + [10_000]
    np.testing.assert_array_equal(
        loaded.score_many(users, [t] * len(users), rec.store.n_items),
        rec.score_many(users, [t] * len(users), rec.store.n_items),
    )


# ----------------------------------------------------------------------------------------------- fine-tuning
def test_finetune_reports_and_keeps_the_current_model_untouched():
    events = random_events(6, n=400)
    rec = small(epochs=1)
    learn(rec, events[:300])
    rec.fit()
    before = {k: v.clone() for k, v in rec.model.weights().items()}
    u, i, t = events[300]
    scores = rec.score(u, t, rec.store.n_items)
    result = finetune(rec, events[100:300], passes=1, val_frac=0.25)
    assert result.n_train == 150 and result.n_val == 50 and result.duration_s > 0
    assert 0 < result.val_mrr_old <= 1 and 0 < result.val_mrr_new <= 1
    assert result.published == (result.val_mrr_new >= result.val_mrr_old)
    for k, v in rec.model.weights().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
    np.testing.assert_array_equal(rec.score(u, t, rec.store.n_items), scores)


def test_finetune_guardrail_rejects_a_broken_candidate(monkeypatch):
    """A candidate whose learned pair term is sabotaged (turned upside down) must not be published."""
    events = cycle_events(seed=1)
    rec = small(epochs=3, lr=1e-2, batch_size=24)
    learn(rec, events[:200])
    rec.fit()

    real_train = finetune_module.train

    def broken_train(candidate, *args, **kwargs):
        result = real_train(candidate, *args, **kwargs)
        with torch.no_grad():
            candidate.model.scorer.pair_term.net[-1].weight.mul_(-10.0)
        return result

    monkeypatch.setattr(finetune_module, "train", broken_train)
    result = finetune(rec, events[:280], passes=1, val_frac=0.3)
    assert not result.published
    assert result.val_mrr_new < result.val_mrr_old
    assert result.version == rec.version


def test_heuristic_mrr_is_the_harness_figure_of_the_serving_heuristic():
    from models.heuristic import GraphHeuristic

    events = random_events(8, n=300)
    got = finetune_module.heuristic_mrr(as_interactions(events[:200]), as_interactions(events[200:]), score_batch=1)
    users, items, ts = (list(x) for x in zip(*events))
    stream = encode_arrays(users, items, ts)
    ref = GraphHeuristic()
    warm_up(ref, stream, 0, 200)
    assert got == pytest.approx(float(np.mean(1.0 / prequential(ref, stream, 200, 300).ranks)))


def test_a_first_model_that_loses_to_the_heuristic_is_not_published_until_a_finetune_beats_it(monkeypatch):
    """The workers serve the heuristic until the first TGN: the guardrail compares against it."""
    events = random_events(9, n=400)
    rec = small(epochs=1, finetune_window=200, finetune_passes=1)
    learn(rec, events[:300])
    monkeypatch.setattr(finetune_module, "heuristic_mrr", lambda *a, **k: 1.01)  # unbeatable
    result = rec.fit(val_frac=0.2)
    assert 0 < result.val_mrr <= 1 and result.val_mrr_heuristic == 1.01
    assert rec.version == "untrained" and rec.must_beat_heuristic
    assert rec.store.counts().events == 300  # the held-out slice is learned as state all the same
    ft = rec.run_finetune()
    assert not ft.published and ft.val_mrr_heuristic == 1.01 and rec.version == "untrained"
    monkeypatch.setattr(finetune_module, "heuristic_mrr", lambda *a, **k: 0.0)
    ft = rec.run_finetune()
    assert ft.val_mrr_heuristic == 0.0
    assert ft.published == (ft.val_mrr_new >= ft.val_mrr_old)
    assert rec.must_beat_heuristic == (not ft.published) and (rec.version != "untrained") == ft.published


def test_a_first_model_that_beats_the_heuristic_gets_a_version():
    events = cycle_events(seed=2)
    rec = small(epochs=3, lr=1e-2, batch_size=24)
    learn(rec, events[:250])
    result = rec.fit(val_frac=0.2)
    # users cycle A -> B -> C: the heuristic's recency order is wrong every time, the TGN learns it
    assert result.val_mrr > result.val_mrr_heuristic
    assert rec.version != "untrained" and not rec.must_beat_heuristic


def test_periodic_finetune_runs_during_evaluation():
    events = random_events(7, n=400)
    users, items, ts = (list(x) for x in zip(*events))
    stream = encode_arrays(users, items, ts)
    rec = small(epochs=1, finetune_every=60, finetune_window=150, finetune_passes=1)
    warm_up(rec, stream, 0, 250)
    result = prequential(rec, stream, 250, 400)
    assert len(rec.finetunes) == 2  # after 60 and 120 learned events
    assert all(r.n_train + r.n_val == 150 for r in rec.finetunes)
    assert np.all(result.ranks >= 1.0)
    published = [r for r in rec.finetunes if r.published]
    assert rec.version == (published[-1].version if published else rec.finetunes[0].version)


def test_zero_epochs_only_replays_the_state():
    events = as_interactions(random_events(8, n=100))
    rec = small(epochs=0)
    before = {k: v.clone() for k, v in rec.model.weights().items()}
    result = train(rec, events, epochs=0, progress=False)
    assert result.losses == [] and rec.store.counts().events == 100
    assert rec.features.popularity.counts(rec.store.n_items).sum() == 100
    assert rec.model.memory.memory.abs().sum() > 0
    for k, v in rec.model.weights().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)
