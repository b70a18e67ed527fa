"""Each baseline's ranks on one small fixed stream, worked out by hand (see the comments)."""
from __future__ import annotations

import copy
import math

import pytest

from models.baselines import BASELINES, Cooccur, EdgeBank, Pop, RecencyPop, RiverMF
from models.evaluation.protocol import encode_arrays, prequential

# users a, b, c -> 0, 1, 2; items x, y, z -> 0, 1, 2
#        e0        e1         e2         e3         e4         e5         e6         e7
EVENTS = [("a", "x", 0), ("a", "y", 10), ("b", "x", 20), ("b", "z", 30), ("a", "x", 40), ("c", "y", 50),
          ("b", "x", 60), ("a", "z", 70)]
# e0, e1 and e3 bring a new item: ranked after every known item -> 1, 2, 3 for every model.


def ranks(model) -> list[float]:
    users, items, ts = zip(*EVENTS)
    return prequential(model, encode_arrays(users, items, ts)).ranks.tolist()


def test_stream_flags():
    users, items, ts = zip(*EVENTS)
    s = encode_arrays(users, items, ts)
    assert s.repeat_flags().tolist() == [False, False, False, False, True, False, True, False]


def test_edgebank():
    # e2 b knows nothing: x ties y -> 1.5; e4 a knows {x,y}: x ties y -> 1.5; e5 c: all three tie -> 2;
    # e6 b knows {x,z}: tie -> 1.5; e7 a knows {x,y}, z is below both -> 3
    assert ranks(EdgeBank()) == [1, 2, 1.5, 3, 1.5, 2, 1.5, 3]


def test_pop_counts():
    # tau = inf: counts. e2 x1 y1 -> 1.5; e4 x2 y1 z1 -> 1; e5 x3 y1 z1: y below x, ties z -> 2.5;
    # e6 x3 y2 z1 -> 1; e7 x4 y2 z1: z last -> 3
    assert ranks(Pop(tau=math.inf)) == [1, 2, 1.5, 3, 1, 2.5, 1, 3]


def test_pop_decayed():
    # tau = 10 s: e2 x e^-2 < y e^-1 -> 2; e4 z e^-1 > x e^-4 + e^-2 > y e^-3 -> 2;
    # e5 x e^-5+e^-3+e^-1 > z e^-2 > y e^-4 -> 3; e6 y e^-5+e^-1 > x e^-6+e^-4+e^-2 > z -> 2;
    # e7 z = e^-4 is last -> 3
    assert ranks(Pop(tau=10.0)) == [1, 2, 2, 3, 2, 3, 2, 3]


def test_recency_pop():
    # e2 b has no history; pop (1 day): y (t=10) a hair above x (t=0) -> 2;
    # e4 a's history y (latest), x -> 2; e5 c: pop x (2 events) > z (t=30) > y (t=10) -> 3;
    # e6 b's history z (latest), x -> 2; e7 a's history x (e4), y, then z -> 3
    assert ranks(RecencyPop()) == [1, 2, 2, 3, 2, 3, 2, 3]


def test_cooccur():
    # transitions: e1 x->y, e3 x->z, e4 y->x, e6 z->x. Popularity (counts) share * 0.5 breaks ties.
    # e2 b has no last item: x ties y -> 1.5; e4 a's last y has no transitions yet: x2 y1 z1 -> 1;
    # e5 c: x3 > y1 = z1 -> 2.5; e6 b's last z has none: x3 y2 z1 -> 1;
    # e7 a's last x: y 1+2/14, z 1+1/14, x 4/14 -> 2
    assert ranks(Cooccur(tau=math.inf)) == [1, 2, 1.5, 3, 1, 2.5, 1, 2]


def test_cooccur_excluding_seen():
    # as above, with the user's own items moved last: e4 a's {x,y} below z; x above y -> 2;
    # e6 b's {x,z} below y; x above z -> 2; e7 a's {x,y} below z -> 1
    assert ranks(Cooccur(tau=math.inf, exclude_seen=True)) == [1, 2, 1.5, 3, 2, 2.5, 2, 1]


def test_river_mf_scores_are_rivers_predictions():
    model = RiverMF(n_factors=3, n_negatives=2, seed=5)
    users, items, ts = zip(*EVENTS)
    s = encode_arrays(users, items, ts)
    prequential(model, s)
    river = copy.deepcopy(model.river_model)  # predict_one may store new defaults: use a copy
    for user in range(3):
        expected = [river.predict_one(user, item) for item in range(3)]
        assert model.score(user, 80.0, 3) == pytest.approx(expected)
    # 8 positives and 2 negatives per event, except the first (no other item to sample)
    assert model.river_model.global_mean.n == 8 + 2 * 7
    assert model.river_model.global_mean.get() == pytest.approx(8 / 22)


def test_river_mf_negatives_are_other_known_items():
    model = RiverMF(n_factors=2, n_negatives=50, seed=1)
    seen: list[tuple[int, int, float]] = []
    model._fit = lambda u, i, y: seen.append((u, i, y))  # type: ignore[method-assign]
    model.learn_one(0, 0, 0.0)
    model.learn_one(0, 3, 1.0)
    negatives = [i for _, i, y in seen if y == 0.0]
    assert len(negatives) == 50  # none for the first event: no other known item
    assert set(negatives) == {0, 1, 2}  # every other known item (ids 0..3 known), never the positive 3


def test_river_mf_unknown_user_does_not_touch_river_state():
    model = RiverMF(n_factors=2, seed=0)
    model.learn_one(0, 0, 0.0)
    before = set(model.river_model.u_latents)
    scores = model.score(99, 1.0, 1)
    assert set(model.river_model.u_latents) == before
    assert scores[0] == pytest.approx(model.river_model.global_mean.get() + model.river_model.i_biases[0])


def test_pop_rejects_nonpositive_tau():
    with pytest.raises(ValueError):
        Pop(tau=0.0)


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_param_grid_builds_models(name):
    cls = BASELINES[name]
    for params in cls.param_grid():
        model = cls(**params)
        for key, value in params.items():
            assert getattr(model, key) == value  # every hyperparameter stored under its own name
    assert cls(**cls.param_grid()[0]).score(0, 0.0, 3).shape == (3,)  # scores even before any event


def _stream(kind: str, n_users: int = 40, n_items: int = 300, n_events: int = 3000, seed: int = 0):
    """``explore``: every event is an item new to its user, drawn by a skewed popularity; ``repeat``:
    every user stays on their last item (80%) or moves to another of their own three items."""
    import numpy as np

    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    weights /= weights.sum()
    used: dict = {}
    users, items = [], []
    for _ in range(n_events):
        u = int(rng.integers(n_users))
        if kind == "explore":
            seen = used.setdefault(u, set())
            p = weights.copy()
            p[list(seen)] = 0.0
            i = int(rng.choice(n_items, p=p / p.sum()))
            seen.add(i)
        else:
            i = used.get(u, 3 * u) if rng.random() < 0.8 else 3 * u + int(rng.integers(3))
            used[u] = i
        users.append(u)
        items.append(i)
    return encode_arrays(users, items, [float(t) for t in range(n_events)])


@pytest.mark.parametrize("kind", ["explore", "repeat"])
def test_heuristic_learns_from_the_stream_whether_users_repeat(kind):
    """Past items first is right where users repeat and wrong where they never do: the repeat-aware
    heuristic gets both from the stream's own repeat rate, with no switch."""
    import numpy as np

    from models.evaluation.metrics import ranking_metrics
    from models.evaluation.protocol import warm_up
    from models.heuristic import GraphHeuristic

    s = _stream(kind)
    cut = 2 * len(s) // 3
    got = {}
    for name, model in (("mixture", GraphHeuristic()), ("tiers", GraphHeuristic(repeat_aware=False))):
        warm_up(model, s, 0, cut)
        got[name] = ranking_metrics(prequential(model, s, cut, len(s)).ranks)
    if kind == "explore":
        assert got["mixture"].recall[10] > got["tiers"].recall[10] + 0.1
    else:
        assert got["mixture"].mrr >= got["tiers"].mrr - 1e-9
        assert got["mixture"].mrr > 0.8
    assert np.isfinite(got["mixture"].mrr)
