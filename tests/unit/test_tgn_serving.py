"""The worker's TGN adapter without a broker: weights swap in, memory stays, lists stay finite."""
import numpy as np

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
    assert scorer.model_version == "heuristic-v1"  # no model yet

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
