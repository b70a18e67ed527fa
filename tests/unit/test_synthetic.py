"""The synthetic scenarios: deterministic, valid on the wire, chronological, and shaped like real traffic."""
from __future__ import annotations

import collections

import numpy as np
import pytest

from models.synthetic import SCENARIOS, default_sizes, generate, play_weight, zipf_top_share
from stream.records import event_to_wire, validate_event

N = 20_000


@pytest.fixture(scope="module", params=["ecommerce", "games"])
def scenario(request):
    """(name, events) for each scenario, generated once per module."""
    return request.param, list(generate(request.param, N, seed=7))


def test_exact_count_unique_ids_and_chronological(scenario):
    _, events = scenario
    assert len(events) == N
    assert [e.event_id for e in events] == [f"e-{k:08d}" for k in range(N)]
    ts = np.array([e.ts for e in events])
    assert np.all(np.diff(ts) >= 0)


def test_deterministic_per_seed(scenario):
    name, events = scenario
    assert list(generate(name, 2_000, seed=7)) == list(generate(name, 2_000, seed=7))
    other = list(generate(name, 2_000, seed=8))
    assert [(e.user_id, e.item_id) for e in other] != [(e.user_id, e.item_id) for e in events[:2_000]]


def test_every_event_validates_on_the_wire(scenario):
    _, events = scenario
    for ev in events:
        assert validate_event(event_to_wire(ev)) == ev


def test_start_ts_and_sizes_are_respected():
    events = list(generate("games", 500, seed=1, n_users=7, n_items=9, start_ts=1000.0))
    assert min(e.ts for e in events) >= 1000.0
    assert len({e.user_id for e in events}) <= 7
    assert len({e.item_id for e in events}) <= 9


def test_popularity_is_heavy_tailed(scenario):
    """The top 10% of items take at least halfway from a uniform share (10%) to the pure Zipf share."""
    name, events = scenario
    _, n_items = default_sizes(N)
    counts = np.sort(np.array(list(collections.Counter(e.item_id for e in events).values())))[::-1]
    top = int(round(0.1 * n_items))
    share = counts[:top].sum() / len(events)
    zipf = zipf_top_share(SCENARIOS[name].zipf_alpha, n_items, 0.1)
    assert share > (0.1 + zipf) / 2


def test_popularity_drifts_and_new_items_appear(scenario):
    _, events = scenario
    third = len(events) // 3
    early = collections.Counter(e.item_id for e in events[:third])
    late = collections.Counter(e.item_id for e in events[-third:])
    top_early = {i for i, _ in early.most_common(20)}
    top_late = {i for i, _ in late.most_common(20)}
    assert len(top_early & top_late) < 15  # the charts change
    first_half = {e.item_id for e in events[: len(events) // 2]}
    assert len({e.item_id for e in events[len(events) // 2 :]} - first_half) > 0  # new releases


def test_sessions_are_bursts_separated_by_long_gaps(scenario):
    name, events = scenario
    cfg = SCENARIOS[name]
    last: dict[str, float] = {}
    gaps = []
    for e in events:
        if e.user_id in last:
            gaps.append(e.ts - last[e.user_id])
        last[e.user_id] = e.ts
    gaps = np.array(gaps)
    # Within a session a user's events are of order session_gap_s apart (plus the match, for games);
    # between sessions of order mean_inter_session_s. Few gaps fall in the valley between the two.
    burst = cfg.session_gap_s + getattr(cfg, "median_play_s", 0.0)
    short = np.mean(gaps < 10 * burst)
    long = np.mean(gaps > cfg.mean_inter_session_s / 10)
    assert short > 0.5
    assert long > 0.1
    assert 1 - short - long < 0.1


def test_ecommerce_funnel_and_attrs():
    events = list(generate("ecommerce", 10_000, seed=3))
    types = collections.Counter(e.event_type for e in events)
    assert set(types) == {"view", "cart", "purchase"}
    assert types["view"] > types["cart"] > types["purchase"] > 0
    weights = {e.event_type: e.weight for e in events}
    assert weights == {"view": 1.0, "cart": 2.0, "purchase": 3.0}
    cats = set(SCENARIOS["ecommerce"].categories)
    for e in events:
        assert e.attrs["category"] in cats and e.attrs["price"] > 0
    # every purchase follows a cart of the same item by the same user
    carted: set[tuple[str, str]] = set()
    for e in events:
        if e.event_type == "cart":
            carted.add((e.user_id, e.item_id))
        elif e.event_type == "purchase":
            assert (e.user_id, e.item_id) in carted


def test_games_attrs_and_weight_grows_with_play_time():
    events = list(generate("games", 10_000, seed=3))
    assert {e.event_type for e in events} == {"play"}
    secs = np.array([e.attrs["play_seconds"] for e in events])
    assert np.all(secs > 0)
    assert {e.attrs["win"] for e in events} == {0, 1}
    assert {e.attrs["genre"] for e in events} <= set(SCENARIOS["games"].categories)
    for e in events:
        assert e.weight == pytest.approx(play_weight(e.attrs["play_seconds"]), abs=1e-4)
    order = np.argsort(secs)
    w = np.array([e.weight for e in events])[order]
    assert np.all(np.diff(w) >= -1e-4)
    assert np.percentile(secs, 99) > 5 * np.median(secs)  # heavy tail


def _recency_pop_vs_random(events, k: int = 10, warmup: float = 0.2) -> tuple[float, float]:
    """Prequential hit@k of "the user's recent items, then the most popular" and of a uniform random list.

    Both rank only items seen so far; the random list's hit rate is its expectation, k / n_seen for a seen
    item and 0 for a new one.
    """
    index: dict[str, int] = {}
    counts = np.zeros(len({e.item_id for e in events}))
    recent: dict[str, list[int]] = collections.defaultdict(list)
    start = int(warmup * len(events))
    hits = random_hits = 0.0
    for n, e in enumerate(events):
        known = e.item_id in index
        item = index.setdefault(e.item_id, len(index))
        if n >= start:
            ranked = recent[e.user_id][::-1][:k]
            for j in np.argsort(-counts[: len(index)], kind="stable"):
                if len(ranked) >= k:
                    break
                if j not in ranked:
                    ranked.append(int(j))
            hits += item in ranked
            n_seen = len(index) - (0 if known else 1)
            random_hits += min(k, n_seen) / n_seen if known else 0.0
        mine = recent[e.user_id]
        if item in mine:
            mine.remove(item)
        mine.append(item)
        del mine[:-k]
        counts[item] += 1
    m = len(events) - start
    return hits / m, random_hits / m


def test_recency_popularity_clearly_beats_random(scenario):
    _, events = scenario
    learned, random = _recency_pop_vs_random(events[:10_000])
    assert learned > 3 * random
    assert learned - random > 0.2
