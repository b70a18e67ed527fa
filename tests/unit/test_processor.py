"""The worker's core step without a broker: one answer per accepted event, no peeking ahead, crash rules."""
import json

from graph_store import MemoryGraphStore
from graph_store.events import Interaction
from stream.processor import EventProcessor, HeuristicScorer, RawMessage
from stream.records import Recommendation, encode_event


def msgs(events, partition=0, start=0, topic="interactions"):
    return [RawMessage(topic, partition, start + n, encode_event(e)) for n, e in enumerate(events)]


def processor(store=None):
    store = store or MemoryGraphStore()
    return EventProcessor(store, HeuristicScorer(store), k=5, clock=lambda: 100.0), store


def test_one_answer_per_accepted_event_and_bad_ones_to_dlq():
    p, store = processor()
    batch = msgs([Interaction("u1", "a", 1.0, event_id="e1"), Interaction("u2", "b", 2.0)])
    batch.insert(1, RawMessage("interactions", 0, 99, b"{oops"))
    out = p.process(batch)
    recs = [Recommendation.decode(v) for _, v in out.recommendations]
    assert [r.event_id for r in recs] == ["e1", "interactions-0-1"]  # producer id echoed, else one assigned
    assert [json.loads(v)["reason"] for _, v in out.dlq] == ["not_json"]
    assert out.rejected == {"not_json": 1} and out.applied == 2
    assert all(r.model_version == "heuristic-v2" and r.k == 5 for r in recs)


def test_list_includes_its_event_and_nothing_later_of_that_user():
    p, store = processor()
    # u1's two events in one batch: the first list must not know item "z" yet, the second must.
    out = p.process(msgs([Interaction("u1", "a", 1.0), Interaction("u2", "z", 1.5), Interaction("u1", "z", 2.0)]))
    first, _, second = [Recommendation.decode(v) for _, v in out.recommendations]
    assert first.items[0][0] == "a"  # its own, just-seen item tops the list
    assert [i for i, _ in second.items][:2] == ["z", "a"]  # most recent first
    assert first.event_ts == 1.0 and second.event_ts == 2.0


def test_redelivery_after_crash_is_answered_but_not_reapplied():
    p, store = processor()
    batch = msgs([Interaction("u1", "a", 1.0), Interaction("u1", "b", 2.0), Interaction("u2", "a", 3.0)])
    p.process(batch)
    before = store.counts()
    again = p.process(batch)  # the consumer re-reads messages whose offsets were not committed
    assert store.counts() == before
    assert again.applied == 0 and again.redelivered == 3 and len(again.recommendations) == 3


def test_duplicate_event_id_applied_once():
    p, store = processor()
    ev = Interaction("u1", "a", 1.0, event_id="same")
    out = p.process(msgs([ev]) + msgs([ev], start=1))
    assert out.applied == 1 and out.duplicates == 1 and len(out.recommendations) == 2
    assert store.counts().events == 1


def test_late_events_applied_and_counted():
    store = MemoryGraphStore()
    p = EventProcessor(store, HeuristicScorer(store), k=5, lateness_s=10.0)
    out = p.process(msgs([Interaction("u1", "a", 100.0), Interaction("u1", "b", 50.0), Interaction("u1", "c", 95.0)]))
    assert out.applied == 3 and out.late == 1
    assert store.degree_user(store.user_index("u1")) == 3


def test_online_hits_compare_each_event_with_the_users_previous_list():
    p, store = processor()
    first = p.process(msgs([Interaction("u1", "a", 1.0), Interaction("u2", "b", 1.0)]))
    assert first.hits == []  # nobody had a list yet
    out = p.process(msgs([Interaction("u1", "a", 2.0), Interaction("u2", "zzz", 2.0)], start=2))
    assert out.hits == [True, False]  # u1 came back to "a" (in its list); "zzz" was never listed
