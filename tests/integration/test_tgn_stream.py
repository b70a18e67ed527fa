"""The TGN on the real broker: a model announced mid-stream is hot-swapped in, nothing lost or answered twice;
the trainer learns from the topic and announces what it publishes."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import pytest

from models.synthetic import generate
from stream.model_updates import ModelAnnouncement, ModelWatcher, announce
from stream.records import encode_event, encode_key
from tests.integration.workers import Topics, WorkerProcess, consume, metric, produce, recommendations, when

pytestmark = pytest.mark.kafka

SMALL = dict(memory_dim=16, time_dim=16, embedding_dim=16, hidden=16, item_hidden=16, n_neighbours=5, n_recent=10)


def _checkpoint(events, path, version: str):
    from models.tgn import TGNRecommender

    rec = TGNRecommender(epochs=1, seed=0, **SMALL)
    for ev in events:
        rec.learn_event(ev)
    rec.fit()
    rec.version = version
    return rec.save(str(path), metrics={"train_loss": 1.5, "finetune_duration_s": 0.25})


def test_model_announced_mid_stream_is_hot_swapped_without_loss(bootstrap, tmp_path):
    topics = Topics.fresh("tgn")
    events = list(generate("games", 900, seed=31))
    v1, v2 = f"tgn-test-{uuid.uuid4().hex[:6]}-1", f"tgn-test-{uuid.uuid4().hex[:6]}-2"
    c1 = _checkpoint(events[:300], tmp_path / "m1.pt", v1)
    _checkpoint(events[:300], tmp_path / "m2.pt", v2)
    w = WorkerProcess(bootstrap, topics, f"app-{uuid.uuid4().hex[:8]}", tmp_path / "w", extra_args=["--model", "tgn"]).start()
    try:
        def send(chunk):
            produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in chunk))

        def answered(n):
            return lambda msgs: len(msgs) >= n

        send(events[:300])
        consume(bootstrap, topics.output, 300, timeout_s=90, until=answered(300))
        announce(bootstrap, topics.model, ModelAnnouncement(v1, c1.created_at, str(tmp_path / "m1.pt"), {}, {"train_loss": 1.5, "finetune_duration_s": 0.25}))
        w.wait_for(lambda w: w.health()["model_version"] == v1, "first model loaded", wait_s=90)
        send(events[300:600])
        consume(bootstrap, topics.output, 600, timeout_s=90, until=answered(600))
        announce(bootstrap, topics.model, ModelAnnouncement(v2, time.time(), str(tmp_path / "m2.pt"), {}, {}))
        w.wait_for(lambda w: w.health()["model_version"] == v2, "second model loaded", wait_s=90)
        send(events[600:])
        recs = recommendations(consume(bootstrap, topics.output, len(events), timeout_s=120, settle_s=3))

        assert len(recs) == len(events)
        assert sorted(r.event_id for r in recs) == sorted(e.event_id for e in events)  # none lost, none twice
        order = {e.event_id: n for n, e in enumerate(events)}
        versions = [r.model_version for r in sorted(recs, key=lambda r: order[r.event_id])]
        assert versions[:300] == ["heuristic-v2"] * 300  # no model yet: the heuristic serves
        assert set(versions[300:600]) == {v1} and set(versions[600:]) == {v2}
        text = w.metrics()
        assert metric(text, "streamrec_model_info", version=v2) == 1 and metric(text, "streamrec_model_info", version=v1) == 0
        assert metric(text, "streamrec_events_processed_total") == len(events)
        # Memory was kept across the swap: the worker's TGN state covers every event, not only those after v2.
        body = json.loads(w.get(f"/recommendations/{events[-1].user_id}?k=5"))
        assert body["model_version"] == v2 and len(body["items"]) == 5
    finally:
        w.stop()


def test_trainer_trains_fine_tunes_and_announces(bootstrap, tmp_path):
    topics = Topics.fresh("trainer")
    events = list(generate("ecommerce", 750, seed=37))
    produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events[:700]))
    ckpt_dir = tmp_path / "models"
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    proc = subprocess.run(
        [sys.executable, "-m", "stream.cli", "trainer", "--bootstrap", bootstrap, "--app-id", app_id,
         "--input-topic", topics.input, "--model-topic", topics.model, "--checkpoint-dir", str(ckpt_dir),
         "--finetune-every-events", "300", "--finetune-every-s", "0", "--train-epochs", "1", "--max-events", "700",
         "--idle-exit", "30"],
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    watcher = ModelWatcher(bootstrap, topics.model)
    try:
        newest = watcher.poll(timeout_ms=2000)
    finally:
        watcher.close()
    assert newest is not None and newest.version.startswith("tgn-")
    assert (ckpt_dir / f"{newest.version}.pt").exists() and newest.checkpoint == str((ckpt_dir / f"{newest.version}.pt").resolve())
    assert "train_loss" in newest.metrics and "finetune_duration_s" in newest.metrics
    assert "700 events" in proc.stderr and "published" in proc.stderr

    # A restart carries on: the announced model, its window replayed, no training from scratch.
    from stream.settings import Settings
    from stream.trainer import run_trainer

    produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in events[700:]))
    settings = Settings.resolve(bootstrap=bootstrap, app_id=app_id, input_topic=topics.input, model_topic=topics.model,
                                checkpoint_dir=str(ckpt_dir), finetune_every_events=300, finetune_every_s=0, train_epochs=1)
    stats = run_trainer(settings, max_events=50, idle_exit_s=30)
    assert stats.resumed_from == newest.version
    assert stats.replayed == 700  # the whole window (default 20,000) before the committed offsets
    assert stats.events == 50 and stats.published == []  # 50 < 300 // 4: no fine-tune, nothing re-announced


def test_worker_tgn_state_is_saved_on_stop_and_restored_on_restart(bootstrap, tmp_path):
    import torch

    topics = Topics.fresh("tgnstate")
    events = list(generate("games", 400, seed=41))
    version = f"tgn-test-{uuid.uuid4().hex[:6]}"
    _checkpoint(events[:200], tmp_path / "m.pt", version)
    app_id = f"app-{uuid.uuid4().hex[:8]}"
    args = ["--model", "tgn", "--checkpoint", str(tmp_path / "m.pt")]

    def send(chunk):
        produce(bootstrap, topics.input, ((encode_key(e.user_id), encode_event(e)) for e in chunk))

    w = WorkerProcess(bootstrap, topics, app_id, tmp_path / "w", extra_args=args).start()
    try:
        send(events[:250])
        consume(bootstrap, topics.output, 250, timeout_s=120, until=lambda msgs: len(msgs) >= 250)
        assert w.health()["model_version"] == version and w.health()["model_state"] == "warm"  # no snapshot yet
    finally:
        assert w.stop() == 0, w.log_tail()
    snap = torch.load(tmp_path / "w" / "tgn-state.pt", weights_only=True)
    assert snap["store_events"] == 250 and snap["state"]["n_learned"] == 250  # the clean stop saved it

    w2 = WorkerProcess(bootstrap, topics, app_id, tmp_path / "w", extra_args=args).start()
    try:
        send(events[250:])
        recs = recommendations(consume(bootstrap, topics.output, 400, timeout_s=120, settle_s=2))
        assert w2.health()["model_state"] == "snapshot"  # restored, not rebuilt from the newest events
        assert sorted(r.event_id for r in recs) == sorted(e.event_id for e in events)  # none lost, none twice
        assert {r.model_version for r in recs} == {version}
    finally:
        w2.stop()
