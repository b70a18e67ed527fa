"""Temporal user-item graph: pure Python, no Kafka or Faust imports.

One interface (:class:`GraphStore`), two backends sharing one core: :class:`MemoryGraphStore` and the
durable :class:`RocksGraphStore`; :func:`open_store` picks one from a path.
"""
from graph_store.base import Applied, GraphConfig, GraphCounts, GraphStore, Neighbours, PairStats
from graph_store.events import DEFAULT_EVENT_WEIGHTS, Interaction
from graph_store.factory import open_store
from graph_store.idmap import IdMap
from graph_store.memory import MemoryGraphStore
from graph_store.rocks import RocksGraphStore

__all__ = [
    "Applied",
    "DEFAULT_EVENT_WEIGHTS",
    "GraphConfig",
    "GraphCounts",
    "GraphStore",
    "IdMap",
    "Interaction",
    "MemoryGraphStore",
    "Neighbours",
    "PairStats",
    "RocksGraphStore",
    "open_store",
]
