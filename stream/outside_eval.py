"""What a client outside the system can measure from Kafka alone (ARCHITECTURE.md, recommendations topic).

The list that answered a user's previous event is the prediction for that user's next event; it holds only
the top K, so an item outside it counts as a miss (MRR@K, Recall@K).
"""
from __future__ import annotations

from typing import Mapping, Sequence

from graph_store.events import Interaction
from stream.records import Recommendation


def outside_metrics(events: Sequence[Interaction], recs: Mapping[str, Recommendation], k: int = 10, test_frac: float = 0.15) -> dict[str, float]:
    """Recall@k and MRR@k over the last ``test_frac`` of ``events`` (in stream order), joined by ``event_id``.

    >>> ev = [Interaction("u", "a", 1, event_id="1"), Interaction("u", "b", 2, event_id="2"), Interaction("u", "a", 3, event_id="3")]
    >>> recs = {"1": Recommendation("u", [("a", 1.0)], 1, "m", "1", 1, 1), "2": Recommendation("u", [("b", 1.0), ("a", 0.5)], 2, "m", "2", 2, 2)}
    >>> outside_metrics(ev, recs, k=10, test_frac=1.0)
    {'test_events': 3, 'scored_events': 2, 'recall@10': 0.3333, 'mrr@10': 0.1667, 'missing_lists': 1}
    """
    start = len(events) - int(round(len(events) * test_frac))
    previous: dict[str, list[str]] = {}
    hits = rr = scored = missing = 0
    for n, ev in enumerate(events):
        if n >= start:
            prior = previous.get(ev.user_id)
            if prior is not None:
                scored += 1
                top = prior[:k]
                if ev.item_id in top:
                    hits += 1
                    rr += 1.0 / (top.index(ev.item_id) + 1)
        rec = recs.get(ev.event_id or "")
        if rec is None:
            missing += 1
        else:
            previous[ev.user_id] = [i for i, _ in rec.items]
    total = len(events) - start
    # A test event with no earlier list for its user is a miss for the system (it had nothing to offer).
    return {
        "test_events": total,
        "scored_events": scored,
        f"recall@{k}": round(hits / total, 4) if total else 0.0,
        f"mrr@{k}": round(rr / total, 4) if total else 0.0,
        "missing_lists": missing,
    }
