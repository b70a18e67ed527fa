"""The interaction event: the one record every layer (store, models, stream) speaks.

Wire parsing and validation of raw Kafka values lives in :mod:`stream.records`; this module is the
validated, typed form that the pure core accepts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

AttrValue = float | int | str | bool

#: Default weight per event type, used when an event carries no ``weight`` (ARCHITECTURE.md).
DEFAULT_EVENT_WEIGHTS: dict[str, float] = {
    "interaction": 1.0,
    # e-commerce
    "view": 1.0,
    "cart": 2.0,
    "purchase": 3.0,
    # games
    "play": 1.0,
    "win": 1.5,
}


@dataclass(frozen=True, slots=True)
class Interaction:
    """One (user, item, time) event with optional type, weight, id and flat attributes.

    >>> ev = Interaction("u1", "i9", 12.5, event_type="purchase", weight=3.0, event_id="e-1")
    >>> ev.user_id, ev.item_id, ev.ts
    ('u1', 'i9', 12.5)
    """

    user_id: str
    item_id: str
    ts: float
    event_type: str = "interaction"
    weight: float = 1.0
    event_id: str | None = None
    attrs: Mapping[str, AttrValue] = field(default_factory=dict)
