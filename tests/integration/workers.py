"""Start real ``streamrec worker`` processes against the test broker, and talk to them like a user.

Bounded everywhere: every wait has a timeout and a clear failure message with the worker's log tail.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from kafka import KafkaConsumer, KafkaProducer

from stream.records import Recommendation


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Topics:
    """A fresh set of contract topics for one test."""

    input: str
    output: str
    dlq: str
    model: str

    @classmethod
    def fresh(cls, prefix: str = "t") -> "Topics":
        tag = uuid.uuid4().hex[:8]
        return cls(f"{prefix}-{tag}-interactions", f"{prefix}-{tag}-recommendations", f"{prefix}-{tag}-dlq", f"{prefix}-{tag}-model-updates")


@dataclass
class WorkerProcess:
    """One ``streamrec worker`` subprocess."""

    bootstrap: str
    topics: Topics
    app_id: str
    data_dir: Path
    partitions: int = 4
    extra_args: list[str] = field(default_factory=list)
    web_port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None
    log_path: Path | None = None

    def start(self, wait_s: float = 120.0, want_partitions: bool = True) -> "WorkerProcess":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-{self.web_port}.log"
        cmd = [
            sys.executable, "-m", "stream.cli", "worker", "--bootstrap", self.bootstrap, "--app-id", self.app_id,
            "--data-dir", str(self.data_dir), "--web-port", str(self.web_port), "--partitions", str(self.partitions),
            "--input-topic", self.topics.input, "--output-topic", self.topics.output, "--dlq-topic", self.topics.dlq,
            "--model-topic", self.topics.model, *self.extra_args,
        ]
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT)
        if wait_s:
            self.wait_healthy(wait_s, want_partitions)
        return self

    def log_tail(self, n: int = 4000) -> str:
        return self.log_path.read_text(errors="replace")[-n:] if self.log_path and self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 5.0) -> bytes:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=timeout) as r:
            return r.read()

    def health(self) -> dict:
        return json.loads(self.get("/healthz"))

    def metrics(self) -> str:
        return self.get("/metrics").decode()

    def wait_healthy(self, wait_s: float = 120.0, want_partitions: bool = True) -> dict:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(f"worker exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                h = self.health()
                if h.get("partitions") or not want_partitions:
                    return h
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError(f"worker not healthy after {wait_s}s:\n{self.log_tail()}")

    def wait_for(self, predicate, what: str, wait_s: float = 120.0, every: float = 0.5):
        """Poll ``predicate(self)`` until truthy; fail with ``what`` and the log tail."""
        deadline = time.monotonic() + wait_s
        last = None
        while time.monotonic() < deadline:
            try:
                last = predicate(self)
                if last:
                    return last
            except OSError:
                pass
            time.sleep(every)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r}):\n{self.log_tail()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)


def when(value, predicate):
    """``value`` if ``predicate(value)`` else None: for ``wait_for`` conditions that return what they saw."""
    return value if predicate(value) else None


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of ``name`` (exact name) whose labels include ``labels``."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, value = line.rsplit(" ", 1)
        metric_name = head.split("{", 1)[0]
        if metric_name != name:
            continue
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


def produce(bootstrap: str, topic: str, messages: Iterable[tuple[bytes, bytes]]) -> int:
    """Send (key, value) pairs with acks=all; returns how many were sent."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    n = 0
    for key, value in messages:
        producer.send(topic, key=key, value=value)
        n += 1
    producer.flush(timeout=60)
    producer.close()
    return n


def consume(bootstrap: str, topic: str, n: int, timeout_s: float = 120.0, settle_s: float = 0.0, until=None) -> list:
    """Read from the start of ``topic`` (all partitions) until ``n`` messages (or ``until(messages)``) or ``timeout_s``.

    ``settle_s`` keeps reading that long after the goal is met, so a test can see messages that should
    not be there (an answer sent twice).
    """
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
                             group_id=None, consumer_timeout_ms=500)
    done = until or (lambda msgs: len(msgs) >= n)
    out: list = []
    deadline = time.monotonic() + timeout_s
    settled_at = None
    try:
        while time.monotonic() < deadline:
            for msg in consumer:
                out.append(msg)
                if settled_at is None and done(out) and not settle_s:
                    return out
            if settled_at is None and done(out):
                settled_at = time.monotonic() + settle_s
            if settled_at is not None and time.monotonic() >= settled_at:
                break
    finally:
        consumer.close()
    return out


def recommendations(messages: list) -> list[Recommendation]:
    return [Recommendation.decode(m.value) for m in messages]
