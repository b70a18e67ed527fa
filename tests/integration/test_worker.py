"""The worker on the real broker: every event answered once, bad events to the DLQ, lag, scale-out, crash."""
from __future__ import annotations

import base64
import json
import signal
import time
import uuid
from collections import defaultdict

import pytest

from models.synthetic import generate
from stream.records import encode_event, encode_key
from tests.integration.workers import Topics, WorkerProcess, consume, metric, produce, recommendations, when

pytestmark = pytest.mark.kafka


def _events(n: int, seed: int = 3, scenario: str = "ecommerce"):
    return list(generate(scenario, n, seed=seed))


def _worker(bootstrap, tmp_path, topics, name="w1", app_id=None, **kw) -> WorkerProcess:
    return WorkerProcess(bootstrap, topics, app_id or f"app-{uuid.uuid4().hex[:8]}", tmp_path / name, **kw)


def _assert_answered_in_user_order(events, recs):
    by_user_sent = defaultdict(list)
    for ev in events:
        by_user_sent[ev.user_id].append(ev.event_id)
    by_user_got = defaultdict(list)
    for r in recs:
        by_user_got[r.user_id].append(r.event_id)
    assert by_user_got == by_user_sent


def test_every_event_answered_once_in_user_order(bootstrap, tmp_path):
    topics = Topics.fresh()
    w = _worker(bootstrap, tmp_path, topics).start()
    try:
        events = _events(600)
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events))
        recs = recommendations(consume(bootstrap, topics.output, len(events), timeout_s=90, settle_s=3))
        assert len(recs) == len(events)
        _assert_answered_in_user_order(events, recs)
        for r in recs:
            assert r.k == 10 and 1 <= len(r.items) <= 10 and r.model_version
            assert r.emitted_at >= r.event_ts - 1e9  # a real time stamp, not a placeholder
        last = {r.user_id: r for r in recs}
        assert w.health()["graph"]["events"] == len(events)
        m = w.metrics()
        assert metric(m, "streamrec_events_processed_total") == len(events)
        assert metric(m, "streamrec_recommendations_emitted_total") == len(events)
        assert metric(m, "streamrec_event_to_recommendation_seconds_count") == len(events)
        user = next(iter(last))
        body = json.loads(w.get(f"/recommendations/{user}?k=3"))
        assert body["user_id"] == user and len(body["items"]) <= 3
    finally:
        w.stop()


def test_bad_events_go_to_dlq_and_worker_keeps_serving(bootstrap, tmp_path):
    topics = Topics.fresh()
    w = _worker(bootstrap, tmp_path, topics).start()
    try:
        good = _events(50, seed=5)
        bad = [
            (b"u1", b"{not json"),
            (b"u1", json.dumps({"user_id": "u1", "item_id": "", "ts": 1}).encode()),
            (b"u2", json.dumps({"user_id": "u2", "item_id": "i", "ts": "later"}).encode()),
            (b"u3", json.dumps({"user_id": "u3", "item_id": "i", "ts": 1, "attrs": {"x": [1]}}).encode()),
            (b"u4", json.dumps({"user_id": "u4", "item_id": "i", "ts": 1, "pad": "x" * 70000}).encode()),
        ]
        msgs = [(encode_key(e.user_id), encode_event(e)) for e in good[:25]] + bad + [(encode_key(e.user_id), encode_event(e)) for e in good[25:]]
        produce(bootstrap, topics.input, msgs)
        dlq = consume(bootstrap, topics.dlq, len(bad), timeout_s=60)
        reasons = sorted(json.loads(m.value)["reason"] for m in dlq)
        assert reasons == sorted(["not_json", "empty_id", "bad_type", "bad_attrs", "too_large"])
        for m in dlq:
            body = json.loads(m.value)
            assert body["topic"] == topics.input and body["offset"] >= 0
            assert base64.b64decode(body["raw"]) in {v for _, v in bad}
        recs = recommendations(consume(bootstrap, topics.output, len(good), timeout_s=60, settle_s=2))
        assert sorted(r.event_id for r in recs) == sorted(e.event_id for e in good)
        m = w.wait_for(lambda w: when(w.metrics(), lambda t: metric(t, "streamrec_events_rejected_total") == len(bad)), "rejected count")
        assert metric(m, "streamrec_events_rejected_total", reason="not_json") == 1
        assert w.health()["status"] == "ok"
    finally:
        w.stop()


def test_duplicate_event_id_applied_once_answered_each_time(bootstrap, tmp_path):
    topics = Topics.fresh()
    w = _worker(bootstrap, tmp_path, topics).start()
    try:
        events = _events(20, seed=9)
        msgs = [(encode_key(e.user_id), encode_event(e)) for e in events]
        produce(bootstrap, topics.input, msgs + msgs[:5])
        recs = recommendations(consume(bootstrap, topics.output, 25, timeout_s=60, settle_s=2))
        assert len(recs) == 25
        assert w.health()["graph"]["events"] == 20
        assert metric(w.metrics(), "streamrec_events_duplicate_total") == 5
    finally:
        w.stop()


def test_lag_on_metrics_reaches_zero_once_drained(bootstrap, tmp_path):
    topics = Topics.fresh()
    events = _events(400, seed=11)
    w = _worker(bootstrap, tmp_path, topics).start()
    try:
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events))
        consume(bootstrap, topics.output, len(events), timeout_s=90)

        def drained(w):
            text = w.metrics()
            lines = [l for l in text.splitlines() if l.startswith("streamrec_consumer_lag{")]
            return text if len(lines) == 4 and metric(text, "streamrec_consumer_lag") == 0 else None

        text = w.wait_for(drained, "consumer lag 0 on all four partitions", wait_s=60)
        assert metric(text, "streamrec_consumer_lag_seconds") == 0
    finally:
        w.stop()


def test_two_workers_over_four_partitions_answer_every_event_exactly_once(bootstrap, tmp_path):
    topics = Topics.fresh()
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    a = _worker(bootstrap, tmp_path, topics, "a", app_id).start()
    b = _worker(bootstrap, tmp_path, topics, "b", app_id).start(want_partitions=False)
    try:
        # Wait until the group has settled: the two workers own disjoint halves of the four partitions.
        def split(_):
            pa, pb = set(a.health()["partitions"]), set(b.health()["partitions"])
            return (pa, pb) if pa and pb and not (pa & pb) and (pa | pb) == {0, 1, 2, 3} else None

        a.wait_for(split, "partitions split across the two workers", wait_s=90)
        events = _events(800, seed=13)
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events))
        recs = recommendations(consume(bootstrap, topics.output, len(events), timeout_s=120, settle_s=3))
        assert len(recs) == len(events)
        assert sorted(r.event_id for r in recs) == sorted(e.event_id for e in events)
        _assert_answered_in_user_order(events, recs)
        ga, gb = a.health()["graph"], b.health()["graph"]
        assert ga["events"] > 0 and gb["events"] > 0 and ga["events"] + gb["events"] == len(events)
        assert ga["users"] + gb["users"] == len({e.user_id for e in events})  # users are partitioned, never shared
    finally:
        a.stop()
        b.stop()


def test_sigkill_mid_stream_then_restart_matches_uninterrupted_run(bootstrap, tmp_path):
    topics = Topics.fresh()
    events = _events(3000, seed=17)
    produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events))

    # Reference: one uninterrupted worker (its own group) over the same topic.
    ref = _worker(bootstrap, tmp_path, topics, "ref", extra_args=["--output-topic", topics.output + "-ref"]).start()
    try:
        ref_graph = ref.wait_for(lambda w: when(w.health()["graph"], lambda g: g["events"] == len(events)), "reference run complete")
    finally:
        ref.stop()

    app_id = f"app-{uuid.uuid4().hex[:8]}"
    crash = _worker(bootstrap, tmp_path, topics, "crash", app_id).start()
    crash.wait_for(lambda w: w.health()["graph"]["events"] >= 600, "part of the stream applied", every=0.05)
    crash.stop(sig=signal.SIGKILL)
    again = _worker(bootstrap, tmp_path, topics, "crash", app_id, web_port=crash.web_port).start()
    try:
        graph = again.wait_for(lambda w: when(w.health()["graph"], lambda g: g["events"] >= len(events)), "restarted run complete")
        time.sleep(2.0)  # nothing further may arrive: a second application would show here
        graph = again.health()["graph"]
        assert graph == ref_graph
        want = {e.event_id for e in events}
        outputs = recommendations(consume(bootstrap, topics.output, len(events), timeout_s=90,
                                          until=lambda msgs: {json.loads(m.value)["event_id"] for m in msgs} >= want))
        assert {r.event_id for r in outputs} == want  # every event answered (at least once: the tail re-answered)
        assert len(outputs) - len(want) <= metric(again.metrics(), "streamrec_events_redelivered_total")
    finally:
        again.stop()


def test_state_moves_with_partitions_to_a_new_worker(bootstrap, tmp_path):
    """A worker with an empty disk that takes over the group's partitions rebuilds their state first."""
    topics = Topics.fresh()
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    events = _events(1000, seed=23)
    first, later = events[:700], events[700:]
    old = _worker(bootstrap, tmp_path, topics, "old", app_id).start()
    try:
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in first))
        graph_old = old.wait_for(lambda w: when(w.health()["graph"], lambda g: g["events"] == len(first)), "first part applied")
        # Offsets must be committed before the old owner leaves, as in a graceful hand-over.
        old.wait_for(lambda w: metric(w.metrics(), "streamrec_consumer_lag") == 0 and len(
            [l for l in w.metrics().splitlines() if l.startswith("streamrec_consumer_lag{")]) == 4, "old worker committed")
    finally:
        old.stop()
    new = _worker(bootstrap, tmp_path, topics, "new", app_id).start()
    try:
        assert new.wait_for(lambda w: when(w.health()["graph"], lambda g: g["events"] == len(first)), "state rebuilt") == graph_old
        assert new.health()["caught_up_messages"] == len(first)
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in later))
        recs = recommendations(consume(bootstrap, topics.output, len(events), timeout_s=90, settle_s=3))
        assert len(recs) == len(events)  # the old worker answered the first part, the new one the rest, once each
        assert sorted(r.event_id for r in recs) == sorted(e.event_id for e in events)
        # A returning user's first list after the hand-over still ranks their items from before it.
        seen_before = {}
        for e in first:
            seen_before.setdefault(e.user_id, set()).add(e.item_id)
        answers = {r.event_id: r for r in recs}
        firsts = {}
        for e in later:
            firsts.setdefault(e.user_id, e)  # each user's first event after the hand-over
        returning = [e for e in firsts.values() if e.user_id in seen_before]
        assert returning
        assert sum(bool(seen_before[e.user_id] & {i for i, _ in answers[e.event_id].items}) for e in returning) == len(returning)
    finally:
        new.stop()
