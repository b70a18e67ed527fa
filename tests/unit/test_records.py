"""The input contract: every bad event is rejected with its reason; good ones round-trip."""
import base64
import json

import pytest

from graph_store.events import Interaction
from stream.records import (
    EventLimits,
    InvalidEvent,
    Recommendation,
    encode_dlq,
    encode_event,
    parse_event,
)

GOOD = {"user_id": "u42", "item_id": "sku-981", "ts": 1733212800.25, "event_type": "purchase", "weight": 3.0,
        "event_id": "e-000123", "attrs": {"category": "shoes", "price": 59.9}}


def raw(obj) -> bytes:
    return json.dumps(obj).encode()


def test_contract_example_parses():
    ev = parse_event(raw(GOOD))
    assert ev == Interaction("u42", "sku-981", 1733212800.25, "purchase", 3.0, "e-000123", {"category": "shoes", "price": 59.9})


def test_defaults_from_event_type():
    ev = parse_event(raw({"user_id": "u", "item_id": "i", "ts": 1}))
    assert (ev.event_type, ev.weight, ev.event_id, dict(ev.attrs)) == ("interaction", 1.0, None, {})
    assert parse_event(raw({"user_id": "u", "item_id": "i", "ts": 1, "event_type": "cart"})).weight == 2.0
    limits = EventLimits(event_weights={"cart": 7.5})
    assert parse_event(raw({"user_id": "u", "item_id": "i", "ts": 1, "event_type": "cart"}), limits).weight == 7.5


@pytest.mark.parametrize(
    "value, reason",
    [
        (b"not json", "not_json"),
        (b"\xff\xfe", "not_utf8"),
        (raw([1, 2]), "not_object"),
        (raw("x"), "not_object"),
        (raw({**GOOD, "user_id": ""}), "empty_id"),
        (raw({k: v for k, v in GOOD.items() if k != "user_id"}), "missing_field"),
        (raw({k: v for k, v in GOOD.items() if k != "ts"}), "missing_field"),
        (raw({**GOOD, "item_id": 17}), "bad_type"),
        (raw({**GOOD, "item_id": "x" * 257}), "id_too_long"),
        (raw({**GOOD, "ts": "yesterday"}), "bad_type"),
        (raw({**GOOD, "ts": True}), "bad_type"),
        (b'{"user_id":"u","item_id":"i","ts":NaN}', "not_finite"),
        (b'{"user_id":"u","item_id":"i","ts":1,"weight":Infinity}', "not_finite"),
        (raw({**GOOD, "weight": "heavy"}), "bad_type"),
        (raw({**GOOD, "attrs": [1]}), "bad_attrs"),
        (raw({**GOOD, "attrs": {"nested": {"a": 1}}}), "bad_attrs"),
        (raw({**GOOD, "attrs": {f"k{i}": i for i in range(100)}}), "bad_attrs"),
        (raw({**GOOD, "event_id": 5}), "bad_type"),
        (raw({**GOOD, "attrs": {"blob": "x" * 70_000}}), "too_large"),
        (None, "empty"),
    ],
)
def test_bad_events_rejected_with_reason(value, reason):
    with pytest.raises(InvalidEvent) as info:
        parse_event(value)
    assert info.value.reason == reason


def test_id_limit_is_in_bytes_not_characters():
    ok = "é" * 128  # 256 bytes
    assert parse_event(raw({**GOOD, "user_id": ok})).user_id == ok
    with pytest.raises(InvalidEvent, match="id_too_long"):
        parse_event(raw({**GOOD, "user_id": ok + "é"}))


def test_event_round_trip():
    ev = parse_event(raw(GOOD))
    assert parse_event(encode_event(ev)) == ev


def test_dlq_keeps_original_bytes_and_coordinates():
    msg = json.loads(encode_dlq(b"\x00bad", "not_json", "boom", "interactions", 3, 17))
    assert msg["reason"] == "not_json" and (msg["topic"], msg["partition"], msg["offset"]) == ("interactions", 3, 17)
    assert base64.b64decode(msg["raw"]) == b"\x00bad"


def test_recommendation_round_trip():
    rec = Recommendation("u42", [("sku-7", 0.91), ("sku-981", 0.88)], 10, "tgn-x", "e-1", 5.0, 6.0)
    back = Recommendation.decode(rec.encode())
    assert back == Recommendation("u42", [("sku-7", 0.91), ("sku-981", 0.88)], 10, "tgn-x", "e-1", 5.0, 6.0)
    assert set(json.loads(rec.encode())) == {"user_id", "items", "k", "model_version", "event_id", "event_ts", "emitted_at"}


def test_recommendation_is_strict_json_even_with_non_finite_scores():
    rec = Recommendation("u", [("a", float("-inf")), ("b", float("nan"))], 2, "m", "e", 1.0, 2.0)
    body = json.loads(rec.encode())  # would fail on NaN/Infinity literals with a strict parser below
    assert [x["score"] for x in body["items"]] == [None, None]
    assert b"NaN" not in rec.encode() and b"Infinity" not in rec.encode()
