"""Every wire format of ARCHITECTURE.md in one place: input events, recommendations, DLQ, model updates.

Parsing is strict and total: any value either becomes a validated :class:`Interaction` or raises
:class:`InvalidEvent` with a machine-readable ``reason`` (the ``streamrec_events_rejected_total`` label) and a
human-readable ``error``. Nothing here touches Kafka, so the contract is unit-tested without a broker.

>>> ev = parse_event(b'{"user_id": "u1", "item_id": "i1", "ts": 5, "event_type": "purchase"}')
>>> ev.user_id, ev.item_id, ev.ts, ev.weight
('u1', 'i1', 5.0, 3.0)
>>> parse_event(b'{"user_id": "u1", "ts": 5}')
Traceback (most recent call last):
...
stream.records.InvalidEvent: missing_field: item_id is required
"""
from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from graph_store.events import DEFAULT_EVENT_WEIGHTS, Interaction

MAX_ID_BYTES = 256


@dataclass(frozen=True)
class EventLimits:
    """Size limits applied to every input message (configurable through Settings)."""

    max_message_bytes: int = 64 * 1024
    max_attrs: int = 32
    max_attr_value_bytes: int = 1024
    event_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))


class InvalidEvent(ValueError):
    """A rejected input event: ``reason`` is a short label, ``error`` the detail."""

    def __init__(self, reason: str, error: str):
        super().__init__(f"{reason}: {error}")
        self.reason = reason
        self.error = error


def _finite_number(value: Any, name: str) -> float:
    # bool is an int subclass; "true" is not a timestamp.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidEvent("bad_type", f"{name} must be a number, got {type(value).__name__}")
    f = float(value)
    if not math.isfinite(f):
        raise InvalidEvent("not_finite", f"{name} must be finite, got {value!r}")
    return f


def _identifier(obj: Mapping[str, Any], name: str) -> str:
    if name not in obj or obj[name] is None:
        raise InvalidEvent("missing_field", f"{name} is required")
    value = obj[name]
    if not isinstance(value, str):
        raise InvalidEvent("bad_type", f"{name} must be a string, got {type(value).__name__}")
    if not value:
        raise InvalidEvent("empty_id", f"{name} must not be empty")
    if len(value.encode("utf-8")) > MAX_ID_BYTES:
        raise InvalidEvent("id_too_long", f"{name} is over {MAX_ID_BYTES} bytes")
    return value


def _attrs(value: Any, limits: EventLimits) -> dict[str, float | int | str | bool]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidEvent("bad_attrs", f"attrs must be an object, got {type(value).__name__}")
    if len(value) > limits.max_attrs:
        raise InvalidEvent("bad_attrs", f"attrs has {len(value)} keys, limit {limits.max_attrs}")
    out: dict[str, float | int | str | bool] = {}
    for k, v in value.items():
        if isinstance(v, str):
            if len(v.encode("utf-8")) > limits.max_attr_value_bytes:
                raise InvalidEvent("bad_attrs", f"attrs[{k!r}] is over {limits.max_attr_value_bytes} bytes")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            if not math.isfinite(float(v)):
                raise InvalidEvent("bad_attrs", f"attrs[{k!r}] is not finite")
        elif not isinstance(v, bool):
            raise InvalidEvent("bad_attrs", f"attrs[{k!r}] must be a string or number (a flat map)")
        out[k] = v
    return out


def validate_event(obj: Any, limits: EventLimits = EventLimits()) -> Interaction:
    """A decoded JSON value -> :class:`Interaction`, or :class:`InvalidEvent`."""
    if not isinstance(obj, dict):
        raise InvalidEvent("not_object", f"event must be a JSON object, got {type(obj).__name__}")
    user_id = _identifier(obj, "user_id")
    item_id = _identifier(obj, "item_id")
    if "ts" not in obj or obj["ts"] is None:
        raise InvalidEvent("missing_field", "ts is required")
    ts = _finite_number(obj["ts"], "ts")
    event_type = obj.get("event_type", "interaction")
    if event_type is None:
        event_type = "interaction"
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEvent("bad_type", "event_type must be a non-empty string")
    if obj.get("weight") is None:
        weight = float(limits.event_weights.get(event_type, 1.0))
    else:
        weight = _finite_number(obj["weight"], "weight")
    event_id = obj.get("event_id")
    if event_id is not None:
        if not isinstance(event_id, str) or not event_id:
            raise InvalidEvent("bad_type", "event_id must be a non-empty string")
        if len(event_id.encode("utf-8")) > MAX_ID_BYTES:
            raise InvalidEvent("id_too_long", f"event_id is over {MAX_ID_BYTES} bytes")
    return Interaction(
        user_id=user_id,
        item_id=item_id,
        ts=ts,
        event_type=event_type,
        weight=weight,
        event_id=event_id,
        attrs=_attrs(obj.get("attrs"), limits),
    )


def parse_event(raw: bytes | None, limits: EventLimits = EventLimits()) -> Interaction:
    """Raw Kafka value bytes -> :class:`Interaction`, or :class:`InvalidEvent`."""
    if raw is None:
        raise InvalidEvent("empty", "message has no value")
    if len(raw) > limits.max_message_bytes:
        raise InvalidEvent("too_large", f"message is {len(raw)} bytes, limit {limits.max_message_bytes}")
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent("not_utf8", str(exc)) from exc
    except json.JSONDecodeError as exc:
        raise InvalidEvent("not_json", f"{exc.msg} at {exc.pos}") from exc
    return validate_event(obj, limits)


def event_to_wire(ev: Interaction) -> dict[str, Any]:
    """The ``interactions`` topic JSON object for an event (the inverse of :func:`validate_event`)."""
    out: dict[str, Any] = {"user_id": ev.user_id, "item_id": ev.item_id, "ts": ev.ts, "event_type": ev.event_type, "weight": ev.weight}
    if ev.event_id is not None:
        out["event_id"] = ev.event_id
    if ev.attrs:
        out["attrs"] = dict(ev.attrs)
    return out


def encode_event(ev: Interaction) -> bytes:
    """Value bytes for the ``interactions`` topic.

    >>> parse_event(encode_event(Interaction("u", "i", 1.0, event_id="e1"))).event_id
    'e1'
    """
    return json.dumps(event_to_wire(ev), separators=(",", ":")).encode("utf-8")


def encode_key(user_id: str) -> bytes:
    """Message key on every topic: the user id, UTF-8 (partitions by user)."""
    return user_id.encode("utf-8")


@dataclass(frozen=True)
class Recommendation:
    """One ``recommendations`` message: the list that answered one accepted event."""

    user_id: str
    items: Sequence[tuple[str, float]]
    k: int
    model_version: str
    event_id: str
    event_ts: float
    emitted_at: float

    def to_wire(self) -> dict[str, Any]:
        return {
            "user_id": self.user_id,
            # JSON has no NaN/Infinity: a non-finite score (e.g. -inf for an excluded item) is sent as null.
            "items": [{"item_id": i, "score": round(float(s), 6) if math.isfinite(s) else None} for i, s in self.items],
            "k": self.k,
            "model_version": self.model_version,
            "event_id": self.event_id,
            "event_ts": self.event_ts,
            "emitted_at": self.emitted_at,
        }

    def encode(self) -> bytes:
        return json.dumps(self.to_wire(), separators=(",", ":"), allow_nan=False).encode("utf-8")

    @classmethod
    def decode(cls, raw: bytes) -> "Recommendation":
        obj = json.loads(raw)
        return cls(
            user_id=obj["user_id"],
            items=[(x["item_id"], float("nan") if x["score"] is None else float(x["score"])) for x in obj["items"]],
            k=int(obj["k"]),
            model_version=obj["model_version"],
            event_id=obj["event_id"],
            event_ts=float(obj["event_ts"]),
            emitted_at=float(obj["emitted_at"]),
        )


def assigned_event_id(topic: str, partition: int, offset: int) -> str:
    """The id the system assigns to an event that came without one: its Kafka coordinates.

    Stable across redeliveries, so a re-read message dedupes like one with a producer id.

    >>> assigned_event_id("interactions", 2, 17)
    'interactions-2-17'
    """
    return f"{topic}-{partition}-{offset}"


def encode_dlq(raw: bytes | None, reason: str, error: str, topic: str, partition: int, offset: int) -> bytes:
    """A ``interactions.dlq`` message: the original bytes (base64) with why and where it came from."""
    return json.dumps(
        {
            "reason": reason,
            "error": error,
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "raw": base64.b64encode(raw or b"").decode("ascii"),
        },
        separators=(",", ":"),
    ).encode("utf-8")


def _strict(value: Any) -> Any:
    """``value`` with every non-finite float as ``None`` (strict JSON has no NaN / Infinity).

    >>> _strict({"a": float("nan"), "b": [1.5, float("inf")], "c": "x"})
    {'a': None, 'b': [1.5, None], 'c': 'x'}
    """
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {k: _strict(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_strict(v) for v in value]
    return value


def encode_model_update(version: str, created_at: float, window: Mapping[str, Any], metrics: Mapping[str, Any], checkpoint: str) -> bytes:
    """A ``model-updates`` message (compacted topic, key = ``model``); metrics that are not numbers
    (a comparison that was not run) are ``null``."""
    return json.dumps(
        _strict({"version": version, "created_at": created_at, "window": dict(window), "metrics": dict(metrics),
                 "checkpoint": checkpoint}),
        separators=(",", ":"), allow_nan=False,
    ).encode("utf-8")
