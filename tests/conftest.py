"""Shared pytest fixtures.

Kafka, for integration tests (quix-streams style: one real broker, a fresh topic and group per test):

* ``kafka_broker`` (session): ONE real local Apache Kafka for the whole run, started the first time a
  test asks for it, with the same code users run (:class:`stream.kafka_local.LocalKafka`, jars from
  :func:`stream.kafka_local.fetch_jars`). Set ``STREAMREC_TEST_BOOTSTRAP=host:port`` to use an external
  broker instead. It never skips: if the broker cannot start, the tests that need it ERROR with the log tail.
* ``bootstrap`` (session): its ``"host:port"``.
* ``topic_factory(partitions=4, *, compacted=False) -> str``: a freshly created, uniquely named topic.
* ``group_id_factory() -> str``: a fresh consumer group id.

Tests that use ``kafka_broker`` (directly or through the fixtures above) are marked ``kafka`` automatically,
so ``-m "not kafka"`` leaves them out.
"""
from __future__ import annotations

import os
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from stream.kafka_local import LocalKafka, create_topics, fetch_jars


@dataclass(frozen=True)
class ExternalKafka:
    """A broker someone else runs (``STREAMREC_TEST_BOOTSTRAP``); same ``bootstrap`` as :class:`LocalKafka`."""

    bootstrap: str

    def is_running(self) -> bool:
        return True


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[LocalKafka | ExternalKafka]:
    """One broker for the whole session (see the module docstring)."""
    external = os.environ.get("STREAMREC_TEST_BOOTSTRAP")
    if external:
        yield ExternalKafka(external)
        return
    broker = LocalKafka(libs=fetch_jars())
    broker.start(wait_s=90)  # raises KafkaStartError with the broker's log tail
    try:
        yield broker
    finally:
        broker.stop()


@pytest.fixture(scope="session")
def bootstrap(kafka_broker: LocalKafka | ExternalKafka) -> str:
    """``"host:port"`` of the session broker."""
    return kafka_broker.bootstrap


def _unique_name(kind: str, request: pytest.FixtureRequest) -> str:
    """``<kind>-<test name>-<random>``, restricted to the characters Kafka allows in names."""
    test = re.sub(r"[^A-Za-z0-9._-]+", "-", request.node.name)[:80].strip("-")
    return f"{kind}-{test}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def topic_factory(bootstrap: str, request: pytest.FixtureRequest) -> Callable[..., str]:
    """Call ``topic_factory(partitions=4, compacted=False)`` to create a fresh topic and get its name."""

    def make(partitions: int = 4, *, compacted: bool = False) -> str:
        name = _unique_name("topic", request)
        create_topics(bootstrap, {name: partitions}, compacted={name} if compacted else ())
        return name

    return make


@pytest.fixture
def group_id_factory(request: pytest.FixtureRequest) -> Callable[[], str]:
    """Call ``group_id_factory()`` for a consumer group id no other test uses."""
    return lambda: _unique_name("group", request)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "kafka_broker" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.kafka)
