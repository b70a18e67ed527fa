"""Choosing a graph store backend from a path."""
from __future__ import annotations

from pathlib import Path

from graph_store.base import GraphConfig, GraphStore
from graph_store.memory import MemoryGraphStore
from graph_store.rocks import RocksGraphStore


def open_store(path: str | Path | None, config: GraphConfig = GraphConfig()) -> GraphStore:
    """A :class:`RocksGraphStore` at ``path``, or a :class:`MemoryGraphStore` when ``path`` is ``None``.

    >>> type(open_store(None)).__name__
    'MemoryGraphStore'
    """
    if path is None:
        return MemoryGraphStore(config)
    return RocksGraphStore(path, config)
