"""One contract suite for every graph store backend, plus RocksDB-only durability checks.

Expected values are worked out by hand from tiny streams (see the comments), not copied from runs.
"""
from __future__ import annotations

import csv
import gzip
import math
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from graph_store import (
    Applied,
    GraphConfig,
    GraphCounts,
    GraphStore,
    Interaction,
    MemoryGraphStore,
    PairStats,
    RocksGraphStore,
    open_store,
)

WIKI = Path("/work/shared/data/jodie-wikipedia/events.csv.gz")
MakeStore = Callable[..., GraphStore]


@pytest.fixture(params=["memory", "rocks"])
def make_store(request: pytest.FixtureRequest, tmp_path: Path):
    """Factory for fresh stores of the parametrized backend; all closed at teardown."""
    made: list[GraphStore] = []

    def make(config: GraphConfig = GraphConfig()) -> GraphStore:
        if request.param == "memory":
            store: GraphStore = MemoryGraphStore(config)
        else:
            store = RocksGraphStore(tmp_path / f"db{len(made)}", config)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def ev(user: str, item: str, ts: float, weight: float = 1.0, event_id: str | None = None, **attrs) -> Interaction:
    return Interaction(user, item, ts, weight=weight, event_id=event_id, attrs=attrs)


def wiki_events(n: int) -> list[Interaction]:
    out = []
    with gzip.open(WIKI, "rt") as fh:
        for k, row in enumerate(csv.DictReader(fh)):
            if k >= n:
                break
            out.append(Interaction(row["user"], row["item"], float(row["ts"]), event_id=f"w{k}"))
    return out


# ------------------------------------------------------------------ ids
def test_ids_are_dense_in_order_of_first_appearance(make_store: MakeStore) -> None:
    store = make_store()
    store.apply([ev("ub", "x", 1), ev("ua", "y", 2), ev("ub", "y", 3), ev("uc", "x", 4)])
    assert [store.user_index(u) for u in ("ub", "ua", "uc", "nobody")] == [0, 1, 2, None]
    assert [store.item_index(i) for i in ("x", "y", "zz")] == [0, 1, None]
    assert store.user_id(1) == "ua" and store.item_id(1) == "y"
    assert store.item_ids() == ["x", "y"]
    assert (store.n_users, store.n_items) == (3, 2)
    store.apply([ev("ua", "z", 5)])
    assert store.item_ids() == ["x", "y", "z"] and store.user_index("ub") == 0
    with pytest.raises(IndexError):
        store.user_id(3)
    with pytest.raises(IndexError):
        store.user_neighbours(-1, 5)


def test_applied_reports_new_nodes_and_repeat_pairs(make_store: MakeStore) -> None:
    store = make_store()
    out = store.apply([ev("u", "a", 1), ev("u", "b", 2), ev("v", "a", 3), ev("u", "a", 4)])
    assert out == [
        Applied(0, 0, True, True, False),
        Applied(0, 1, False, True, False),
        Applied(1, 0, True, False, False),
        Applied(0, 0, False, False, True),
    ]
    assert store.add(ev("v", "b", 5)) == Applied(1, 1, False, False, False)


# ------------------------------------------------------------------ neighbours, degrees, last item
def test_neighbours_most_recent_first_and_capped(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(max_neighbours=3))
    store.apply([ev("u", f"i{k}", float(k), weight=k / 2) for k in range(5)])
    nb = store.user_neighbours(0, 10)
    assert nb.index.tolist() == [4, 3, 2]  # only the 3 latest kept
    assert nb.ts.tolist() == [4.0, 3.0, 2.0]
    assert nb.weight.tolist() == [2.0, 1.5, 1.0]
    assert (nb.index.dtype, nb.ts.dtype, nb.weight.dtype) == (np.int64, np.float64, np.float32)
    assert store.user_neighbours(0, 2).index.tolist() == [4, 3]
    assert len(store.user_neighbours(0, 0)) == 0
    assert store.item_neighbours(4, 5).index.tolist() == [0]
    assert store.degree_user(0) == 5  # degrees are not capped
    assert [store.degree_item(i) for i in range(5)] == [1] * 5


def test_late_events_are_placed_by_time(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(max_neighbours=3))
    store.apply([ev("u", "a", 10), ev("u", "b", 30), ev("v", "b", 31)])
    store.apply([ev("u", "c", 20)])  # late for u (latest 30) and applied, not dropped
    assert store.user_neighbours(0, 5).ts.tolist() == [30.0, 20.0, 10.0]
    assert store.user_neighbours(0, 5).index.tolist() == [1, 2, 0]
    assert store.last_item(0) == 1  # still the item at ts 30
    store.apply([ev("u", "d", 5)])  # older than everything kept: counted but outside the 3 latest
    assert store.user_neighbours(0, 5).ts.tolist() == [30.0, 20.0, 10.0]
    assert store.degree_user(0) == 4
    store.apply([ev("w", "b", 15)])  # late for item b: lands between ts 31/30 and nothing older
    assert store.item_neighbours(1, 5).ts.tolist() == [31.0, 30.0, 15.0]
    assert store.counts().events == 6


def test_last_item_ties_go_to_the_later_applied_event(make_store: MakeStore) -> None:
    store = make_store()
    store.apply([ev("u", "a", 7), ev("u", "b", 7)])
    assert store.last_item(0) == 1
    assert store.user_neighbours(0, 2).index.tolist() == [1, 0]


# ------------------------------------------------------------------ pair summaries
def test_user_item_stats(make_store: MakeStore) -> None:
    store = make_store()
    store.apply([ev("u", "a", 1, 1.0), ev("u", "b", 2, 2.0), ev("u", "a", 3, 0.5), ev("u", "a", 0.5, 0.25)])
    st = store.user_item_stats(0)
    assert st.item.tolist() == [0, 1]  # most recent last_ts first: a (3), b (2)
    assert st.count.tolist() == [3, 1]
    assert st.weight_sum.tolist() == [1.75, 2.0]
    assert st.last_ts.tolist() == [3.0, 2.0]
    assert st.first_ts.tolist() == [0.5, 2.0]  # the late event moved first_ts back
    assert store.pair_stats(0, 1) == (1, 2.0, 2.0, 2.0)
    assert store.add(ev("v", "b", 9)) is not None and store.pair_stats(1, 0) is None


def test_pair_summaries_are_bounded_but_repeat_flags_and_edges_stay_exact(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(max_user_items=2))
    store.apply([ev("u", "a", 1), ev("u", "b", 2), ev("u", "c", 3)])  # a (least recent) evicted
    assert sorted(store.user_item_stats(0).item.tolist()) == [1, 2]
    again = store.add(ev("u", "a", 4))
    assert again is not None and again.is_repeat_pair  # known from the exact edge set
    assert sorted(store.user_item_stats(0).item.tolist()) == [0, 2]  # b now least recent
    assert store.user_item_stats(0).count.tolist() == [1, 1]  # a's summary restarted
    assert store.counts() == GraphCounts(users=1, items=3, edges=3, events=4)


# ------------------------------------------------------------------ popularity
def test_popularity_decays_exponentially(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(popularity_tau=10.0))
    store.apply([ev("u", "a", 0.0, 1.0), ev("v", "b", 5.0, 1.0), ev("u", "a", 10.0, 2.0)])
    store.apply([ev("w", "b", 2.0, 3.0)])  # late: still counted with its own time
    pop = store.item_popularity(20.0)
    # a: 1*e^{-(20-0)/10} + 2*e^{-(20-10)/10};  b: 1*e^{-(20-5)/10} + 3*e^{-(20-2)/10}
    expected = [math.exp(-2) + 2 * math.exp(-1), math.exp(-1.5) + 3 * math.exp(-1.8)]
    np.testing.assert_allclose(pop, expected, rtol=1e-12)
    assert pop.dtype == np.float64 and pop.shape == (2,)
    assert store.item_counts().tolist() == [2, 2]


def test_popularity_stays_finite_over_many_time_constants(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(popularity_tau=1.0))
    store.apply([ev("u", "old", 0.0), ev("u", "new", 2000.0), ev("v", "new", 2000.5)])
    pop = store.item_popularity(2001.0)
    # old: e^{-2001} underflows to ~0; new: e^{-1} + e^{-0.5}
    np.testing.assert_allclose(pop, [0.0, math.exp(-1) + math.exp(-0.5)], rtol=1e-12, atol=1e-300)
    assert np.isfinite(pop).all()


# ------------------------------------------------------------------ co-occurrence
def test_cooccurrence_counts_consecutive_transitions(make_store: MakeStore) -> None:
    store = make_store()
    store.apply(
        [
            ev("u1", "a", 1), ev("u2", "a", 2), ev("u1", "b", 3), ev("u1", "b", 4),  # b->b skipped
            ev("u2", "b", 5), ev("u1", "c", 6), ev("u3", "c", 7), ev("u3", "a", 8),
        ]
    )  # fmt: skip
    a, b, c = (store.item_index(x) for x in "abc")
    nxt, cnt = store.cooccurrence(a)
    assert (nxt.tolist(), cnt.tolist()) == ([b], [2])  # u1 and u2 went a -> b
    assert [x.tolist() for x in store.cooccurrence(b)] == [[c], [1]]
    assert [x.tolist() for x in store.cooccurrence(c)] == [[a], [1]]
    store.apply([ev("u1", "a", 5.5)])  # late for u1 (latest 6): no transition recorded
    assert [x.tolist() for x in store.cooccurrence(c)] == [[a], [1]]


def test_cooccurrence_table_evicts_the_lowest_count(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(max_cooccur=2))
    # from a: -> b twice, -> c once, then -> d: c (lowest count) makes room for d
    store.apply([ev("u", "a", 1), ev("u", "b", 2), ev("v", "a", 3), ev("v", "b", 4), ev("w", "a", 5)])
    store.apply([ev("w", "c", 6), ev("x", "a", 7), ev("x", "d", 8)])
    a, b, d = (store.item_index(x) for x in "abd")
    assert [x.tolist() for x in store.cooccurrence(a)] == [[b, d], [2, 1]]


# ------------------------------------------------------------------ dedupe and watermarks
def test_duplicate_event_ids_are_skipped(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(dedupe_window=2))
    out = store.apply([ev("u", "a", 1, event_id="e1"), ev("u", "b", 2, event_id="e2"), ev("u", "c", 3, event_id="e1")])
    assert out[2] is None and out[0] is not None
    assert store.add(ev("v", "z", 9, event_id="e2")) is None
    assert (store.counts().events, store.n_users, store.n_items) == (2, 1, 2)  # the skipped ones left no trace
    store.apply([ev("u", "d", 4, event_id="e3")])  # window 2: e1 now forgotten
    assert store.add(ev("u", "a", 5, event_id="e1")) is not None
    assert store.add(ev("u", "a", 6, event_id="e3")) is None
    assert store.counts().events == 4


def test_watermark_skips_offsets_already_applied(make_store: MakeStore) -> None:
    store = make_store()
    batch = [ev(f"u{k}", f"i{k % 2}", float(k)) for k in range(5)]
    assert store.watermark("interactions", 0) == -1
    assert all(store.apply(batch, source=("interactions", 0), offsets=range(10, 15)))
    assert store.watermark("interactions", 0) == 14
    before = store.counts()
    assert store.apply(batch, source=("interactions", 0), offsets=range(10, 15)) == [None] * 5
    assert store.counts() == before and store.item_counts().tolist() == [3, 2]
    # partial overlap: 13, 14 skipped, 15, 16 applied; another partition is independent
    out = store.apply(batch[:4], source=("interactions", 0), offsets=[13, 14, 15, 16])
    assert [o is None for o in out] == [True, True, False, False]
    assert store.watermark("interactions", 0) == 16 and store.watermark("interactions", 1) == -1
    assert all(store.apply(batch[:1], source=("interactions", 1), offsets=[0]))
    assert store.counts().events == 8
    with pytest.raises(ValueError):
        store.apply(batch, source=("interactions", 0), offsets=[1, 2])


def test_invalid_batch_is_rejected_whole(make_store: MakeStore) -> None:
    store = make_store()
    store.apply([ev("u", "a", 1)])
    with pytest.raises(ValueError):
        store.apply([ev("u", "b", 2), ev("v", "c", float("nan"))])
    assert store.counts() == GraphCounts(users=1, items=1, edges=1, events=1)
    store.apply([ev("u", "b", 2)])  # the store stays usable
    assert store.counts().events == 2


# ------------------------------------------------------------------ recent-events ring and counts
def test_transaction_applies_as_one_and_reads_see_it(make_store: MakeStore) -> None:
    store = make_store()
    with store.transaction():
        store.apply([ev("u1", "a", 1.0)], source=("t", 0), offsets=[0])
        assert store.counts().events == 1  # visible inside the block
        store.apply([ev("u1", "b", 2.0), ev("u2", "a", 3.0)], source=("t", 0), offsets=[1, 2])
    assert store.counts() == GraphCounts(users=2, items=2, edges=3, events=3)
    assert store.watermark("t", 0) == 2


def test_rocks_transaction_is_all_or_nothing_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "db"
    with RocksGraphStore(path) as store:
        store.apply([ev("u0", "z", 0.5)], source=("t", 0), offsets=[0])
        with pytest.raises(KeyboardInterrupt):
            with store.transaction():
                store.apply([ev("u1", "a", 1.0)], source=("t", 0), offsets=[1])
                store.apply([ev("u1", "b", 2.0)], source=("t", 0), offsets=[2])
                raise KeyboardInterrupt  # the process dies before the block ends
        with pytest.raises(RuntimeError):
            store.apply([ev("u9", "q", 9.0)])  # memory and disk disagree now: no more writes
    with RocksGraphStore(path) as store:
        assert store.counts() == GraphCounts(users=1, items=1, edges=1, events=1)
        assert store.watermark("t", 0) == 0


def test_recent_events_ring_is_bounded_and_in_apply_order(make_store: MakeStore) -> None:
    store = make_store(GraphConfig(window_size=4))
    store.apply([ev(f"u{k % 2}", f"i{k}", float(k), weight=k + 0.5, price=k * 10) for k in range(5)])
    store.apply([ev("u0", "i1", 2.5, weight=2.0, category="shoes")])  # late, still last in apply order
    # users alternate u0 (index 0), u1 (index 1); the oldest two events fell out of the ring of 4
    assert store.recent_events() == [(0, 2, 2.0, 2.5), (1, 3, 3.0, 3.5), (0, 4, 4.0, 4.5), (0, 1, 2.5, 2.0)]
    assert store.recent_events(limit=2) == [(0, 4, 4.0, 4.5), (0, 1, 2.5, 2.0)]
    assert store.recent_events(limit=0) == []
    assert store.recent_events_since(3.0) == [(1, 3, 3.0, 3.5), (0, 4, 4.0, 4.5)]
    assert store.recent_event_attrs(limit=2) == [{"price": 40.0}, None]  # strings dropped
    users, items, ts, weights = store.recent_arrays(limit=3)
    assert users.tolist() == [1, 0, 0] and items.tolist() == [3, 4, 1] and ts.tolist() == [3.0, 4.0, 2.5]
    assert weights.tolist() == [3.5, 4.5, 2.0]


def test_counts(make_store: MakeStore) -> None:
    store = make_store()
    assert store.counts() == GraphCounts(0, 0, 0, 0)
    store.apply([ev("u", "a", 1), ev("u", "a", 2), ev("v", "a", 3), ev("v", "b", 4)])
    assert store.counts() == GraphCounts(users=2, items=2, edges=3, events=4)


# ------------------------------------------------------------------ RocksDB only
SMALL = GraphConfig(max_neighbours=5, max_user_items=3, max_cooccur=4, window_size=500, dedupe_window=700)


def pair_rows(st: PairStats) -> list[list]:
    return [st.item.tolist(), st.count.tolist(), st.weight_sum.tolist(), st.last_ts.tolist(), st.first_ts.tolist()]


def snapshot(store: GraphStore) -> dict:
    """Every read of the store, as plain Python values."""
    users, items = range(store.n_users), range(store.n_items)

    def nb(n):
        return n.index.tolist(), n.ts.tolist(), n.weight.tolist()

    return {
        "counts": store.counts(),
        "users": [store.user_id(u) for u in users],
        "items": store.item_ids(),
        "user_nb": [nb(store.user_neighbours(u, 100)) for u in users],
        "item_nb": [nb(store.item_neighbours(i, 100)) for i in items],
        "deg": [store.degree_user(u) for u in users] + [store.degree_item(i) for i in items],
        "last": [store.last_item(u) for u in users],
        "pairs": [pair_rows(store.user_item_stats(u)) for u in users],
        "cooc": [[a.tolist() for a in store.cooccurrence(i)] for i in items],
        "item_counts": store.item_counts().tolist(),
        "recent": store.recent_events(),
        "recent_attrs": store.recent_event_attrs(),
        "watermark": store.watermark("interactions", 0),
    }


def test_rocks_reopen_restores_everything(tmp_path: Path) -> None:
    events = wiki_events(3000)
    cut = 1800
    offsets = list(range(len(events)))
    memory = MemoryGraphStore(SMALL)
    rocks = RocksGraphStore(tmp_path / "db", SMALL)
    for start in range(0, cut, 300):
        for store in (memory, rocks):
            store.apply(events[start : start + 300], source=("interactions", 0), offsets=offsets[start : start + 300])
    before = snapshot(rocks)
    pop_before = rocks.item_popularity(events[cut].ts)
    rocks.close()

    rocks = RocksGraphStore(tmp_path / "db", SMALL)
    assert snapshot(rocks) == before
    np.testing.assert_allclose(rocks.item_popularity(events[cut].ts), pop_before, rtol=1e-9)
    # the evicted summaries / forgotten ids / ring wrap-around behave the same after reopening as never closed
    for start in range(cut, len(events), 300):
        for store in (memory, rocks):
            store.apply(events[start : start + 300], source=("interactions", 0), offsets=offsets[start : start + 300])
    assert snapshot(rocks) == snapshot(memory)
    np.testing.assert_allclose(rocks.item_popularity(1e6), memory.item_popularity(1e6), rtol=1e-9)
    assert rocks.add(events[-1]) is None  # remembered event id
    assert rocks.counts().events == len(events) and rocks.counts().edges == memory.counts().edges
    rocks.close()


def test_rocks_rejects_a_different_popularity_tau(tmp_path: Path) -> None:
    with RocksGraphStore(tmp_path / "db", GraphConfig(popularity_tau=10.0)) as store:
        store.add(ev("u", "a", 1))
    with pytest.raises(ValueError, match="popularity_tau"):
        RocksGraphStore(tmp_path / "db", GraphConfig(popularity_tau=20.0))
    with open_store(tmp_path / "db", GraphConfig(popularity_tau=10.0)) as store:
        assert isinstance(store, RocksGraphStore) and store.counts().events == 1


def test_rocks_reopen_keeps_popularity_across_anchor_moves(tmp_path: Path) -> None:
    config = GraphConfig(popularity_tau=1.0)
    with RocksGraphStore(tmp_path / "db", config) as store:
        store.apply([ev("u", "old", 0.0, 2.0)])
        store.apply([ev("u", "new", 100.0)])  # 100 time constants later: the in-memory anchor moves
    with RocksGraphStore(tmp_path / "db", config) as store:
        np.testing.assert_allclose(store.item_popularity(101.0), [2 * math.exp(-101), math.exp(-1)], rtol=1e-9)


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, signal, sys
    from graph_store import GraphConfig, Interaction, RocksGraphStore
    path, mode = sys.argv[1], sys.argv[2]
    events = [Interaction(f"u{k % 7}", f"i{k % 5}", float(k), event_id=f"e{k}") for k in range(40)]
    store = RocksGraphStore(path, GraphConfig(max_neighbours=4))
    store.apply(events[:20], source=("interactions", 3), offsets=range(100, 120))
    if mode == "before-commit":  # die after the in-memory apply, before the batch reaches RocksDB
        store._commit = lambda delta: os.kill(os.getpid(), signal.SIGKILL)
    store.apply(events[20:], source=("interactions", 3), offsets=range(120, 140))
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no flush
    """
)


@pytest.mark.parametrize("mode", ["after-commit", "before-commit"])
def test_rocks_survives_sigkill_without_loss_or_double_apply(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "db"
    proc = subprocess.run([sys.executable, "-c", CRASH_SCRIPT, str(path), mode], capture_output=True, timeout=60)
    assert proc.returncode == -9, proc.stderr.decode()
    events = [Interaction(f"u{k % 7}", f"i{k % 5}", float(k), event_id=f"e{k}") for k in range(40)]
    survived = 40 if mode == "after-commit" else 20  # all of a batch or none of it
    expected = MemoryGraphStore(GraphConfig(max_neighbours=4))
    expected.apply(events[:survived])

    with RocksGraphStore(path, GraphConfig(max_neighbours=4)) as store:
        assert store.counts() == expected.counts()
        assert store.watermark("interactions", 3) == 99 + survived
        assert snapshot(store)["user_nb"] == snapshot(expected)["user_nb"]
        # the consumer resumes from its last committed offset and redelivers both batches
        replay = store.apply(events[:20], source=("interactions", 3), offsets=range(100, 120))
        replay += store.apply(events[20:], source=("interactions", 3), offsets=range(120, 140))
        assert sum(r is not None for r in replay) == 40 - survived
        assert store.counts().events == 40
        assert store.watermark("interactions", 3) == 139
        expected.apply(events[survived:])
        assert snapshot(store) == snapshot(expected)
