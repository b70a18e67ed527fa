"""The worker's TGN adapter without a broker: weights swap in, memory stays, lists stay finite."""
import numpy as np
import torch

from graph_store import MemoryGraphStore
from models.synthetic import generate
from models.tgn import TGNRecommender
from stream.processor import EventProcessor, RawMessage
from stream.records import Recommendation, encode_event
from stream.tgn_serving import TGNScorer

SMALL = dict(memory_dim=8, time_dim=8, embedding_dim=8, hidden=8, item_hidden=8, n_neighbours=4, n_recent=8)


def _checkpoint(tmp_path, events, version):
    rec = TGNRecommender(epochs=1, seed=0, **SMALL)
    for ev in events:
        rec.learn_event(ev)
    rec.fit()
    rec.version = version
    path = tmp_path / f"{version}.pt"
    rec.save(str(path))
    return str(path)


def test_heuristic_until_a_model_then_tgn_with_finite_scores_on_interleaved_partitions(tmp_path, caplog):
    events = list(generate("ecommerce", 600, seed=5))
    store = MemoryGraphStore()
    scorer = TGNScorer(store, device="cpu", memory_batch_size=16)
    proc = EventProcessor(store, scorer, k=5)
    proc.process([RawMessage("t", 0, n, encode_event(e)) for n, e in enumerate(events[:100])])
    assert scorer.model_version == "heuristic-v2"  # no model yet

    scorer.load(_checkpoint(tmp_path, events[:300], "tgn-a"))
    assert scorer.model_version == "tgn-a"
    # Two partitions delivered one after the other: event time jumps back by days between them.
    late, early = events[400:600], events[100:400]
    out = proc.process([RawMessage("t", 0, 100 + n, encode_event(e)) for n, e in enumerate(late)])
    out2 = proc.process([RawMessage("t", 1, n, encode_event(e)) for n, e in enumerate(early)])
    recs = [Recommendation.decode(v) for _, v in out.recommendations + out2.recommendations]
    assert len(recs) == 500 and {r.model_version for r in recs} == {"tgn-a"}
    assert all(np.isfinite(s) for r in recs for _, s in r.items)
    assert "non-finite" not in caplog.text  # the TGN itself answered, not the heuristic safety net

    learned = scorer.rec._n_learned
    scorer.load(_checkpoint(tmp_path, events[:300], "tgn-b"))  # hot swap: weights change, memory is kept
    assert scorer.model_version == "tgn-b" and scorer.rec._n_learned == learned


def _state(scorer):
    snap = scorer.rec.state_snapshot()
    return snap["n_learned"], snap["features"]["popularity"], snap["model"]["memory"]


def test_restart_restores_the_snapshot_and_replays_only_the_tail(tmp_path):
    events = list(generate("games", 700, seed=9))
    ckpt = _checkpoint(tmp_path, events[:200], "tgn-s")
    store = MemoryGraphStore()
    snap = tmp_path / "w" / "tgn-state.pt"
    live = TGNScorer(store, device="cpu", memory_batch_size=16, snapshot_path=snap, snapshot_every=100, warm_events=50)
    proc = EventProcessor(store, live, k=5)
    proc.process([RawMessage("t", 0, n, encode_event(e)) for n, e in enumerate(events[:200])])
    live.load(ckpt)
    assert live.restored == "warm" and not snap.exists()  # no snapshot yet: warmed from the store
    for start in range(200, 700, 60):  # batches of 60: a snapshot once 100 events have accumulated
        proc.process([RawMessage("t", 0, start + n, encode_event(e)) for n, e in enumerate(events[start:start + 60])])
    snapped_at = torch.load(snap, weights_only=True)["store_events"]
    assert 200 < snapped_at < 700  # written after a commit, and events came after it

    # The worker dies; a new one opens the same store: snapshot + the events after it.
    restarted = TGNScorer(store, device="cpu", memory_batch_size=16, snapshot_path=snap, warm_events=50)
    restarted.load(ckpt)
    assert restarted.restored == "snapshot"
    n_live, pop_live, mem_live = _state(live)
    n_new, pop_new, mem_new = _state(restarted)
    assert n_new == n_live  # every event learned exactly once
    for key in ("count", "last"):  # ("stay" of a replayed event reads the store as it is now: approximate)
        assert torch.equal(pop_new[key], pop_live[key])
    assert torch.equal(mem_new["last_update"], mem_live["last_update"])
    # Without the snapshot the same restart only sees the newest 50 events.
    cold = TGNScorer(store, device="cpu", memory_batch_size=16, warm_events=50)
    cold.load(ckpt)
    assert cold.restored == "warm" and _state(cold)[0] == 50 < n_live


def test_a_snapshot_ahead_of_the_store_is_not_used(tmp_path):
    events = list(generate("games", 300, seed=3))
    ckpt = _checkpoint(tmp_path, events[:200], "tgn-t")
    store = MemoryGraphStore()
    snap = tmp_path / "tgn-state.pt"
    live = TGNScorer(store, device="cpu", memory_batch_size=16, snapshot_path=snap)
    EventProcessor(store, live, k=5).process([RawMessage("t", 0, n, encode_event(e)) for n, e in enumerate(events)])
    live.load(ckpt)
    live.close()  # a clean stop writes the snapshot
    assert torch.load(snap, weights_only=True)["store_events"] == 300
    fresh = MemoryGraphStore()  # e.g. the graph was wiped but the snapshot file was not
    EventProcessor(fresh, TGNScorer(fresh), k=5).process([RawMessage("t", 0, n, encode_event(e)) for n, e in enumerate(events[:100])])
    other = TGNScorer(fresh, device="cpu", snapshot_path=snap)
    other.load(ckpt)
    assert other.restored == "warm" and _state(other)[0] == 100
