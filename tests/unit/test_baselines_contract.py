"""One contract over every registered model (implicit-style): known answer, no leakage, pure scoring.

Each model's test class only supplies ``make()``; the TGN joins automatically once ``models.tgn`` imports.
"""
from __future__ import annotations

import numpy as np
import pytest

from models.base import Recommender
from models.evaluation.metrics import rank_of
from models.evaluation.protocol import EventStream, encode_arrays, prequential
from models.registry import accepts, available_models, make_recommender, model_class


# Every registered model is part of the project: one that cannot be imported fails here, never skips.
MODELS = available_models()


def make(name: str) -> Recommender:
    """A small, seeded instance: the class defaults plus a seed where the model takes one."""
    params = {"seed": 0} if accepts(model_class(name), "seed") else {}
    return make_recommender(name, **params)


class Recording(Recommender):
    """Wraps a model and keeps a copy of every score vector it hands out."""

    def __init__(self, inner: Recommender) -> None:
        self.inner = inner
        self.scores: list[np.ndarray] = []

    def score(self, user: int, t: float, n_items: int) -> np.ndarray:
        s = np.array(self.inner.score(user, t, n_items), dtype=float, copy=True)
        self.scores.append(s)
        return s

    def learn_one(self, user: int, item: int, t: float, weight: float = 1.0) -> None:
        self.inner.learn_one(user, item, t, weight)


def random_stream(seed: int, n: int = 50, n_users: int = 6, n_items: int = 9) -> tuple[list, list, list]:
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n).tolist()
    items = rng.integers(0, n_items, n).tolist()
    ts = np.cumsum(rng.exponential(600.0, n)).round().tolist()  # ties are possible and fine
    return users, items, ts


def scores_of(name: str, stream: EventStream) -> list[np.ndarray]:
    rec = Recording(make(name))
    prequential(rec, stream)
    return rec.scores


@pytest.mark.parametrize("name", MODELS)
def test_obvious_next_item_is_top1(name):
    """Users u1..u4 touch items i1..i4 early; then u0 uses i0 over and over: i0 is plainly next."""
    users, items, ts = [], [], []
    for j in range(1, 5):
        users.append(f"u{j}"), items.append(f"i{j}"), ts.append(float(j))
    for k in range(40):
        users.append("u0"), items.append("i0"), ts.append(100.0 + 60.0 * k)
    stream = encode_arrays(users, items, ts)
    model = make(name)
    prequential(model, stream)
    user, item = stream.user_ids.index("u0"), stream.item_ids.index("i0")
    scores = model.score(user, ts[-1] + 60.0, stream.n_items)
    assert rank_of(scores, item, stream.n_items) == 1.0, scores


@pytest.mark.parametrize("name", MODELS)
def test_scores_do_not_depend_on_the_future(name):
    users, items, ts = random_stream(11)
    full = scores_of(name, encode_arrays(users, items, ts))
    for cut in (9, 30):  # a run that stops right after scoring event `cut`
        truncated = scores_of(name, encode_arrays(users[: cut + 1], items[: cut + 1], ts[: cut + 1]))
        assert len(truncated) == cut + 1
        np.testing.assert_array_equal(truncated[cut], full[cut])


@pytest.mark.parametrize("name", MODELS)
def test_changing_later_events_leaves_earlier_scores_alone(name):
    users, items, ts = random_stream(5)
    base = scores_of(name, encode_arrays(users, items, ts))
    cut = 25  # events after `cut` change: other users (one new), items (three new), later times
    users2 = users[: cut + 1] + [u + 1 for u in users[cut + 1 :]]
    items2 = items[: cut + 1] + [(i * 7 + 3) % 12 for i in items[cut + 1 :]]
    ts2 = ts[: cut + 1] + [t + 5.0 for t in ts[cut + 1 :]]
    other = scores_of(name, encode_arrays(users2, items2, ts2))
    assert not all(np.array_equal(a, b) for a, b in zip(other[cut + 1 :], base[cut + 1 :]))  # they did change
    for e in range(cut + 1):
        np.testing.assert_array_equal(other[e], base[e])


@pytest.mark.parametrize("name", MODELS)
def test_scoring_is_pure_and_deterministic(name):
    users, items, ts = random_stream(2, n=30)
    stream = encode_arrays(users, items, ts)
    a, b = make(name), make(name)
    prequential(a, stream)
    prequential(b, stream)
    n = stream.n_items
    first = a.score(1, ts[-1] + 1.0, n)
    a.score(99, ts[-1] + 1.0, n)  # a user never seen: must not change anyone's state
    np.testing.assert_array_equal(a.score(1, ts[-1] + 1.0, n), first)
    np.testing.assert_array_equal(b.score(1, ts[-1] + 1.0, n), first)
    assert first.shape == (n,) and not np.isnan(first).any()
    assert a.score(99, ts[-1] + 1.0, n).shape == (n,)
