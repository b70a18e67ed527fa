"""Acceptance on the real JODIE Wikipedia file against the independent reference figures in its PROVENANCE.md.

A few seconds: only the two cheap baselines with nothing to choose (recency_pop, edgebank).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from graph_store.readers import read_events
from models.evaluation.protocol import encode, split_by_count
from models.evaluation.selection import evaluate_model

#: ``../shared/data`` next to the repository, as in ARCHITECTURE.md.
WIKIPEDIA = Path(__file__).resolve().parents[3] / "shared" / "data" / "jodie-wikipedia" / "events.csv.gz"

pytestmark = pytest.mark.skipif(not WIKIPEDIA.exists(), reason="JODIE Wikipedia file not available")


@pytest.fixture(scope="module")
def wiki():
    stream = encode(read_events(WIKIPEDIA))
    return stream, split_by_count(len(stream))


def test_stream_matches_the_published_stats(wiki):
    stream, split = wiki
    assert (len(stream), stream.n_users, stream.n_items) == (157_474, 8_227, 1_000)
    assert stream.repeat_flags().sum() == 139_217
    assert stream.repeat_flags()[split.val_end:].mean() == pytest.approx(0.892, abs=0.001)


def test_recency_pop_reference(wiki):
    run = evaluate_model("recency_pop", *wiki)
    test = run.test.summary()
    assert test["overall"]["mrr"] == pytest.approx(0.821, abs=0.01)
    assert test["overall"]["recall@10"] == pytest.approx(0.887, abs=0.01)
    assert test["repeat"]["mrr"] == pytest.approx(0.916, abs=0.01)
    assert test["new"]["mrr"] == pytest.approx(0.037, abs=0.01)


def test_edgebank_reference(wiki):
    test = evaluate_model("edgebank", *wiki).test.summary()
    assert test["overall"]["mrr"] == pytest.approx(0.525, abs=0.01)
    assert test["overall"]["recall@10"] == pytest.approx(0.847, abs=0.01)
