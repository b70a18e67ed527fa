"""The local Apache Kafka broker against both clients the project uses, its admin helpers, and its CLI.

Every wait is bounded (a count and a deadline), so a broken broker fails these tests instead of hanging them.
"""
from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from pathlib import Path

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from kafka.structs import OffsetAndMetadata

from stream.kafka_local import consumer_lag, create_topics, end_offsets, list_topics

pytestmark = [pytest.mark.kafka, pytest.mark.timeout(240)]

N_MESSAGES = 300
N_KEYS = 11


def keyed_messages(n: int = N_MESSAGES, n_keys: int = N_KEYS) -> list[tuple[bytes, bytes]]:
    """``(key, value)`` pairs; values count up, so each key's values must come back increasing."""
    return [(f"user-{i % n_keys}".encode(), str(i).encode()) for i in range(n)]


def assert_same_messages_in_key_order(sent: list[tuple[bytes, bytes]], received: list[tuple[int, bytes, bytes]]) -> None:
    """``received`` holds ``(partition, key, value)``: same multiset, each key on one partition, in order."""
    assert sorted((k, v) for _, k, v in received) == sorted(sent)
    partitions_of: dict[bytes, set[int]] = defaultdict(set)
    got_by_key: dict[bytes, list[bytes]] = defaultdict(list)
    for partition, key, value in received:
        partitions_of[key].add(partition)
        got_by_key[key].append(value)
    want_by_key: dict[bytes, list[bytes]] = defaultdict(list)
    for key, value in sent:
        want_by_key[key].append(value)
    assert all(len(parts) == 1 for parts in partitions_of.values())
    assert got_by_key == want_by_key
    assert len(set().union(*partitions_of.values())) > 1  # the keys really were spread over partitions


def test_kafka_python_round_trip_keeps_per_key_order(bootstrap, topic_factory, group_id_factory):
    topic = topic_factory(partitions=4)
    sent = keyed_messages()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        for key, value in sent:
            producer.send(topic, key=key, value=value)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)

    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group_id_factory(),
                             auto_offset_reset="earliest", enable_auto_commit=False)
    received: list[tuple[int, bytes, bytes]] = []
    deadline = time.monotonic() + 60
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            for tp, records in consumer.poll(timeout_ms=500).items():
                received.extend((tp.partition, r.key, r.value) for r in records)
    finally:
        consumer.close()
    assert_same_messages_in_key_order(sent, received)
    assert sum(end_offsets(bootstrap, topic).values()) == len(sent)


def test_aiokafka_round_trip_keeps_per_key_order(bootstrap, topic_factory, group_id_factory):
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    topic = topic_factory(partitions=4)
    group = group_id_factory()
    sent = keyed_messages()

    async def round_trip() -> list[tuple[int, bytes, bytes]]:
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
        await producer.start()
        try:
            for key, value in sent:
                await producer.send(topic, key=key, value=value)
            await producer.flush()
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        received: list[tuple[int, bytes, bytes]] = []
        try:
            deadline = time.monotonic() + 60
            while len(received) < len(sent) and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    received.extend((tp.partition, r.key, r.value) for r in records)
            await consumer.commit()
        finally:
            await consumer.stop()
        return received

    received = asyncio.run(asyncio.wait_for(round_trip(), timeout=120))
    assert_same_messages_in_key_order(sent, received)
    assert consumer_lag(bootstrap, group, topic) == {p: 0 for p in range(4)}  # aiokafka's commit is visible


def test_consumer_lag_is_end_offset_minus_committed(bootstrap, topic_factory, group_id_factory):
    topic = topic_factory(partitions=2)
    group = group_id_factory()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for i in range(40):
            producer.send(topic, value=str(i).encode(), partition=i % 2 if i < 30 else 0)
        producer.flush(timeout=30)
    finally:
        producer.close(timeout=10)
    ends = end_offsets(bootstrap, topic)
    assert ends == {0: 25, 1: 15}
    assert consumer_lag(bootstrap, group, topic) == ends  # nothing committed: the whole backlog

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:
        consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(10, "", -1)})
        assert consumer_lag(bootstrap, group, topic) == {0: 25 - 10, 1: 15}
        consumer.commit({TopicPartition(topic, p): OffsetAndMetadata(end, "", -1) for p, end in ends.items()})
        assert consumer_lag(bootstrap, group, topic) == {0: 0, 1: 0}
    finally:
        consumer.close()


def test_create_topics_is_idempotent_and_sets_partitions_and_compaction(bootstrap):
    plain, compacted = (f"idem-{kind}-{uuid.uuid4().hex[:8]}" for kind in ("plain", "compacted"))
    assert create_topics(bootstrap, {plain: 3, compacted: 1}, compacted={compacted}) == {plain, compacted}
    assert create_topics(bootstrap, {plain: 3, compacted: 1}, compacted={compacted}) == set()
    assert create_topics(bootstrap, {plain: 5}) == set()  # an existing topic is left as it is
    assert set(end_offsets(bootstrap, plain)) == {0, 1, 2}
    assert {plain, compacted} <= set(list_topics(bootstrap))
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        configs = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, compacted)])
    assert configs["topic"][compacted]["cleanup.policy"]["value"] == "compact"


# ---------------------------------------------------------------------------------------- CLI


def streamrec(*args: str, env: dict[str, str], timeout: float = 150) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stream.cli", *args], env=env, capture_output=True,
                          text=True, timeout=timeout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().rsplit(")", 1)[1].split()[0] == "Z")


def java_processes_using(path: Path) -> list[int]:
    """Pids whose command line mentions ``path`` (the broker passes its data dir in ``-Dkafka.logs.dir``)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(path).encode() in cmdline.read_bytes() and pid_alive(int(cmdline.parent.name)):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``streamrec`` subprocess whose broker record lives in ``tmp_path``."""
    return {**os.environ, "STREAMREC_STATE_DIR": str(tmp_path / "state")}


def test_cli_start_status_stop_runs_a_detached_broker(cli_env, tmp_path):
    started = streamrec("kafka", "start", env=cli_env)
    assert started.returncode == 0, started.stdout + started.stderr
    state = json.loads((tmp_path / "state" / "state.json").read_text())
    pid, bootstrap, data_dir = int(state["pid"]), state["bootstrap"], Path(state["data_dir"])
    try:
        assert pid_alive(pid)  # outlived the command that started it
        assert bootstrap in started.stdout
        create_topics(bootstrap, {"cli-visible": 1})

        status = streamrec("kafka", "status", env=cli_env, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        assert "running" in status.stdout and bootstrap in status.stdout and str(pid) in status.stdout
        assert "cli-visible" in status.stdout

        again = streamrec("kafka", "start", env=cli_env, timeout=60)
        assert again.returncode == 0 and "already running" in again.stdout

        stopped = streamrec("kafka", "stop", env=cli_env, timeout=60)
        assert stopped.returncode == 0, stopped.stdout + stopped.stderr
        assert not pid_alive(pid)
        assert java_processes_using(data_dir) == []
        assert not data_dir.exists()  # its temporary data dir went with it

        after = streamrec("kafka", "status", env=cli_env, timeout=60)
        assert after.returncode == 1 and "not running" in after.stdout
    finally:
        if pid_alive(pid):  # the test failed half-way: do not leave the broker behind
            os.kill(pid, signal.SIGKILL)


def test_cli_foreground_broker_stops_cleanly_on_ctrl_c(cli_env, tmp_path):
    data_dir = tmp_path / "data"
    out = tmp_path / "cli.out"
    with open(out, "w") as sink:
        # Own session: SIGINT to its process group is what a terminal sends on Ctrl-C.
        cli = subprocess.Popen([sys.executable, "-m", "stream.cli", "kafka", "start", "--foreground",
                                "--data-dir", str(data_dir)], env=cli_env, stdout=sink, stderr=subprocess.STDOUT,
                               start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while read_state_in(tmp_path) is None and cli.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        state = read_state_in(tmp_path)
        assert state is not None, out.read_text()
        pid = int(state["pid"])
        os.killpg(cli.pid, signal.SIGINT)
        assert cli.wait(timeout=60) == 0, out.read_text()
    finally:
        if cli.poll() is None:
            os.killpg(cli.pid, signal.SIGKILL)
    assert not pid_alive(pid)
    log = (data_dir / "logs" / "server.log").read_text()
    assert "Terminating process due to signal SIGTERM" in log  # our stop(), not the terminal's SIGINT
    assert "[BrokerServer id=1] shut down completed" in log
    assert read_state_in(tmp_path) is None  # the record is gone with the broker


def read_state_in(tmp_path: Path) -> dict | None:
    """The broker record a CLI run with ``cli_env`` wrote (written atomically, so never half a file)."""
    path = tmp_path / "state" / "state.json"
    return json.loads(path.read_text()) if path.exists() else None
