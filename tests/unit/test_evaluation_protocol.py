"""The prequential protocol: encoding, split, score-before-learn order, batches, and selection."""
from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from models.base import Recommender
from models.baselines import EdgeBank, Pop, RecencyPop
from models.evaluation.protocol import encode, encode_arrays, prequential, split_by_count, warm_up
from models.evaluation.selection import evaluate_model
from graph_store.events import Interaction


class Spy(Recommender):
    """Scores item j as ``table[j]`` and logs every call, to check the protocol's order of calls."""

    name = "spy"

    def __init__(self, table: list[float]) -> None:
        self.table = table
        self.log: list[tuple] = []

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        self.log.append(("score", user, t, n_items))
        return np.array(self.table[:n_items], dtype=float)

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self.log.append(("learn", user, item, t))


def test_encode_sorts_stably_and_numbers_by_first_appearance():
    s = encode_arrays(["b", "a", "c", "a"], ["y", "x", "x", "z"], [5.0, 1.0, 5.0, 3.0], [2.0, 1.0, 1.0, 1.0])
    # sorted order: (a,x,1) (a,z,3) (b,y,5) (c,x,5): ties at 5 keep file order (b before c)
    assert s.user_ids == ["a", "b", "c"] and s.item_ids == ["x", "z", "y"]
    assert s.users.tolist() == [0, 0, 1, 2]
    assert s.items.tolist() == [0, 1, 2, 0]
    assert s.ts.tolist() == [1.0, 3.0, 5.0, 5.0]
    assert s.weights.tolist() == [1.0, 1.0, 2.0, 1.0]
    assert s.n_known_items().tolist() == [0, 1, 2, 3]
    assert s.repeat_flags().tolist() == [False, False, False, False]


def test_encode_reads_interactions():
    s = encode([Interaction("u", "i", 2.0, weight=3.0), Interaction("u", "i", 1.0)])
    assert s.ts.tolist() == [1.0, 2.0] and s.weights.tolist() == [1.0, 3.0]
    assert s.repeat_flags().tolist() == [False, True]


def test_encode_rejects_bad_input():
    with pytest.raises(ValueError):
        encode_arrays(["a"], ["x", "y"], [0.0, 1.0])
    with pytest.raises(ValueError):
        encode_arrays(["a"], ["x"], [float("nan")])


def test_split_by_count():
    s = split_by_count(100)
    assert (s.train_end, s.val_end, s.n_events) == (70, 85, 100)
    assert s.spans == {"train": (0, 70), "val": (70, 85), "test": (85, 100)}
    assert split_by_count(20, val_frac=0.0, test_frac=0.25).spans["val"] == (15, 15)
    with pytest.raises(ValueError):
        split_by_count(10, 0.6, 0.5)


def test_scores_come_before_learning_and_over_known_items_only():
    s = encode_arrays([0, 1, 0], [0, 1, 2], [1.0, 2.0, 3.0])
    spy = Spy([0.0, 0.0, 0.0])
    prequential(spy, s)
    # queried at the time the list was served, never at the event's own time: user 1's first event at the
    # latest time seen before it (1.0), user 0's second event at their previous event (1.0, not 3.0)
    assert spy.log == [
        ("score", 0, 1.0, 0), ("learn", 0, 0, 1.0),
        ("score", 1, 1.0, 1), ("learn", 1, 1, 2.0),
        ("score", 0, 1.0, 2), ("learn", 0, 2, 3.0),
    ]


def test_no_query_time_is_the_scored_events_own_time():
    s = encode_arrays(list("abcabca"), list("xyzxyzx"), [1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0])
    served = s.served_times()
    assert np.all(served < s.ts[np.arange(len(s))] + 1e-12) and np.all(served[1:] < s.ts[1:])
    assert served.tolist() == [1.0, 1.0, 2.0, 1.0, 2.0, 3.0, 5.0]


def test_hand_made_stream_ranks_flags_and_windows():
    # users u,v; items a,b,c. Fixed scores: a=0.5, b=0.5, c=0.9.
    s = encode_arrays(list("uuvuvu"), list("abbacc"), [0, 1, 2, 3, 4, 5])
    r = prequential(Spy([0.5, 0.5, 0.9]), s)
    # e0 a new (nothing known) -> 1; e1 b new, 1 known -> 2; e2 b among {a,b}: tie -> 1.5;
    # e3 a among {a,b}: tie -> 1.5; e4 c new, 2 known -> 3; e5 c among {a,b,c}: best -> 1
    assert r.ranks.tolist() == [1.0, 2.0, 1.5, 1.5, 3.0, 1.0]
    assert r.new_item.tolist() == [True, True, False, False, True, False]
    assert r.repeat.tolist() == [False, False, False, True, False, False]
    summary = r.summary(n_windows=3)
    assert summary["repeat"]["mrr"] == pytest.approx(1 / 1.5)
    assert summary["new"]["n"] == 5
    assert [w["mrr"] for w in summary["windows"]] == pytest.approx([0.75, 1 / 1.5, (1 / 3 + 1) / 2])


def test_span_start_needs_a_warm_model_and_positions_are_absolute():
    s = encode_arrays([0, 0, 0, 0], [0, 1, 0, 1], [0, 1, 2, 3])
    model = EdgeBank()
    warm_up(model, s, 0, 2)
    r = prequential(model, s, 2, 4)
    assert r.positions.tolist() == [2, 3]
    assert r.ranks.tolist() == [1.5, 1.5]
    assert r.repeat.tolist() == [True, True]


def test_batches_score_from_the_state_before_the_batch():
    s = encode_arrays([0, 0, 0, 0], [0, 1, 1, 1], [0, 1, 2, 3])
    exact = prequential(RecencyPop(), s)
    batched = prequential(RecencyPop(), s, batch_size=2)
    # exact: e2 (item 1, user used 0 then 1) -> 1; e3 -> 1
    assert exact.ranks.tolist() == [1.0, 2.0, 1.0, 1.0]
    # batch [e0, e1]: empty model; e1's item is new -> 2. batch [e2, e3]: both scored after e0, e1 -> 1
    assert batched.ranks.tolist() == [1.0, 2.0, 1.0, 1.0]
    spy = Spy([0.0, 0.0])
    prequential(spy, s, batch_size=3)
    kinds = [entry[0] for entry in spy.log]
    assert kinds == ["score", "score", "score", "learn", "learn", "learn", "score", "learn"]
    assert spy.log[0][3] == 2  # one row wide enough for the batch's last event (2 known items)


class TwoFaced(Recommender):
    """Recency when ``good`` else anti-recency: a model whose best setting is obvious on validation."""

    name = "two_faced"

    def __init__(self, good: bool = True) -> None:
        self.good = good
        self._inner = RecencyPop()

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        s = self._inner.score(user, t, n_items)
        return s if self.good else -s

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self._inner.learn_one(user, item, t, weight)


def _repeat_stream(n: int = 60) -> Any:
    rng = np.random.default_rng(3)
    users = rng.integers(0, 4, n)
    items = [int(u) * 3 + int(rng.integers(0, 2)) for u in users]  # each user cycles over a few items
    return encode_arrays(users.tolist(), items, np.arange(n, dtype=float))


def test_selection_uses_validation_and_test_continues_the_chosen_run():
    s = _repeat_stream()
    split = split_by_count(len(s))

    def factory(name: str, **params: Any) -> Recommender:
        return TwoFaced(**params)

    run = evaluate_model("two_faced", s, split, grid=[{"good": False}, {"good": True}], factory=factory)
    assert run.params == {"good": True}
    assert [c.params for c in run.candidates] == [{"good": False}, {"good": True}]
    assert run.candidates[1].val.mrr > run.candidates[0].val.mrr
    assert run.val.positions.tolist() == list(range(split.train_end, split.val_end))
    # test figures equal a from-scratch run with the chosen params through train + val + test
    fresh = TwoFaced(good=True)
    warm_up(fresh, s, 0, split.val_end)
    again = prequential(fresh, s, split.val_end)
    assert run.test.ranks.tolist() == again.ranks.tolist()


def test_selection_never_looks_at_the_test_span():
    s = _repeat_stream()
    split = split_by_count(len(s))
    grid = [{"tau": 1.0}, {"tau": 1000.0}]
    a = evaluate_model("pop", s, split, grid=grid)
    # rewrite the test span completely: the choice and validation figures must not move
    items = s.items.copy()
    items[split.val_end:] = 0
    t = encode_arrays(s.users.tolist(), items.tolist(), s.ts.tolist())
    b = evaluate_model("pop", t, split_by_count(len(t)), grid=grid)
    assert a.params == b.params
    assert a.val.ranks.tolist() == b.val.ranks.tolist()


def test_first_candidate_wins_ties_and_empty_validation():
    s = _repeat_stream(30)
    grid = [{"tau": 5.0}, {"tau": 5.0}]
    assert evaluate_model("pop", s, split_by_count(len(s)), grid=grid).candidates[0].params == {"tau": 5.0}
    run = evaluate_model("pop", s, split_by_count(len(s), val_frac=0.0), grid=[{"tau": 1.0}, {"tau": 9.0}])
    assert run.params == {"tau": 1.0} and len(run.val) == 0


def test_seed_is_passed_to_models_that_take_one():
    s = _repeat_stream(30)
    run = evaluate_model("river_mf", s, split_by_count(len(s)), grid=[{"n_factors": 2}], seed=7)
    assert run.params == {"n_factors": 2, "seed": 7}
    assert evaluate_model("edgebank", s, split_by_count(len(s)), seed=7).params == {}


def test_pop_ranks_agree_with_a_brute_force_sum():
    s = _repeat_stream(80)
    tau = 7.0
    r = prequential(Pop(tau=tau), s)
    known = s.n_known_items()
    for e in range(len(s)):
        i, n = int(s.items[e]), int(known[e])
        if i >= n:
            continue
        pop = np.bincount(s.items[:e], weights=np.exp(-(s.ts[e] - s.ts[:e]) / tau), minlength=n)[:n]
        higher, equal = int((pop > pop[i]).sum()), int((pop == pop[i]).sum()) - 1
        assert (r.higher[e], r.equal[e]) == (higher, equal), e
