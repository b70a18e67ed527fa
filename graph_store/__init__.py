"""Temporal user-item graph: pure Python, no Kafka or Faust imports."""
from graph_store.events import DEFAULT_EVENT_WEIGHTS, Interaction

__all__ = ["DEFAULT_EVENT_WEIGHTS", "Interaction"]
