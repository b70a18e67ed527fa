"""`streamrec generate | produce | tail` as a user runs them, against the real local broker."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pytest

from graph_store.readers import read_events
from models.synthetic import generate
from stream.consumer import iter_records
from stream.producer import ProduceError, make_producer, produce_events
from stream.records import Recommendation, encode_key, parse_event
from stream.settings import Settings

N = 3_000


def streamrec(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the CLI in a fresh interpreter, as `streamrec ARGS...`."""
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], capture_output=True, text=True, timeout=timeout)


def consume_all(bootstrap: str, topic: str, group_id: str, idle_s: float = 5.0) -> list:
    """Every record of ``topic``, stopping after ``idle_s`` without a new one (so extra messages show up too)."""
    settings = Settings.resolve(bootstrap=bootstrap)
    return list(iter_records(settings, topic, group_id=group_id, from_beginning=True, timeout_s=idle_s))


@pytest.mark.kafka
def test_generated_file_is_produced_exactly_once_keyed_by_user_in_user_order(
    bootstrap, topic_factory, group_id_factory, tmp_path: Path
):
    path = tmp_path / "events.jsonl.gz"
    gen = streamrec("generate", "--scenario", "ecommerce", "--events", str(N), "--seed", "5", "--out", str(path))
    assert gen.returncode == 0, gen.stderr
    sent = list(read_events(path))
    assert len(sent) == N

    topic = topic_factory(partitions=4)
    out = streamrec("produce", str(path), "--bootstrap", bootstrap, "--topic", topic, "--no-progress")
    assert out.returncode == 0, out.stderr
    assert f"sent {N:,} events, 0 failed" in out.stderr

    records = consume_all(bootstrap, topic, group_id_factory())
    assert len(records) == N
    got = [parse_event(r.value) for r in records]
    for record, ev in zip(records, got):
        assert record.key == encode_key(ev.user_id)
    assert sorted(got, key=lambda e: e.event_id) == sent  # the same events, attrs and ids included
    partitions_of_user = defaultdict(set)
    for record, ev in zip(records, got):
        partitions_of_user[ev.user_id].add(record.partition)
    assert all(len(p) == 1 for p in partitions_of_user.values())
    assert len({r.partition for r in records}) > 1  # the users were spread over the partitions

    def per_user(events):
        order = defaultdict(list)
        for ev in events:
            order[ev.user_id].append(ev.event_id)
        return order

    assert per_user(got) == per_user(sent)


@pytest.mark.kafka
def test_csv_without_ids_is_sent_without_ids_and_scenario_shortcut_respects_limit(
    bootstrap, topic_factory, group_id_factory, tmp_path: Path
):
    csv_path = tmp_path / "plain.csv"
    csv_path.write_text("src,dst,t,price\n" + "".join(f"u{k % 7},i{k % 11},{k}.5,{k % 3}\n" for k in range(200)))
    topic = topic_factory(partitions=2)
    out = streamrec("produce", str(csv_path), "--user", "src", "--item", "dst", "--ts", "t",
                    "--bootstrap", bootstrap, "--topic", topic, "--no-progress")
    assert out.returncode == 0, out.stderr
    values = [json.loads(r.value) for r in consume_all(bootstrap, topic, group_id_factory())]
    assert len(values) == 200
    assert all("event_id" not in v for v in values)  # the worker assigns ids from Kafka coordinates
    assert {v["attrs"]["price"] for v in values} == {0, 1, 2}

    topic = topic_factory(partitions=2)
    out = streamrec("produce", "--scenario", "games", "--events", "500", "--limit", "120", "--seed", "2",
                    "--bootstrap", bootstrap, "--topic", topic, "--no-progress")
    assert out.returncode == 0, out.stderr
    got = sorted((parse_event(r.value) for r in consume_all(bootstrap, topic, group_id_factory())),
                 key=lambda e: e.event_id)
    assert got == list(generate("games", 120, seed=2))


@pytest.mark.kafka
def test_rate_caps_the_send_rate(bootstrap, topic_factory):
    settings = Settings.resolve(bootstrap=bootstrap, input_topic=topic_factory(partitions=1))
    stats = produce_events(generate("games", 101, seed=1), settings, rate=200.0)
    assert stats.sent == 101 and stats.failed == 0
    assert stats.seconds >= 100 / 200.0 * 0.95  # the 101st event cannot leave before t = 0.5 s


@pytest.mark.kafka
def test_tail_prints_lists_as_json_lines_and_filters_by_user(bootstrap, topic_factory):
    topic = topic_factory(partitions=2)
    now = time.time()
    recs = [Recommendation(f"u{k % 3}", [(f"i{k}", 0.9), ("i0", 0.5)], 10, "test-1", f"e-{k}", now - 2, now - 1)
            for k in range(30)]
    producer = make_producer(Settings.resolve(bootstrap=bootstrap))
    for r in recs:
        producer.send(topic, key=encode_key(r.user_id), value=r.encode())
    producer.flush()
    producer.close()

    out = streamrec("tail", "--json", "--from-beginning", "--timeout", "10", "--max", "30",
                    "--bootstrap", bootstrap, "--topic", topic)
    assert out.returncode == 0, out.stderr
    got = [Recommendation.decode(line.encode()) for line in out.stdout.splitlines()]
    assert sorted(got, key=lambda r: int(r.event_id[2:])) == recs

    out = streamrec("tail", "--from-beginning", "--timeout", "5", "--user", "u1",
                    "--bootstrap", bootstrap, "--topic", topic)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 10
    assert all(line.startswith("u1  e-") and "test-1" in line for line in lines)


def test_unreachable_broker_fails_fast_with_a_clear_message():
    settings = Settings.resolve(bootstrap="127.0.0.1:1")
    with pytest.raises(ProduceError, match="cannot reach Kafka at '127.0.0.1:1'.*streamrec kafka start"):
        make_producer(settings, connect_timeout_s=1.0)
