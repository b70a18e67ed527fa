"""The in-memory graph store: all of :class:`~graph_store.core.GraphCore`, nothing persisted."""
from __future__ import annotations

from graph_store.base import GraphConfig
from graph_store.core import GraphCore


class MemoryGraphStore(GraphCore):
    """Graph store living only in this process (tests, offline evaluation, replays).

    >>> from graph_store.events import Interaction
    >>> store = MemoryGraphStore()
    >>> store.apply([Interaction("u1", "a", 1.0), Interaction("u1", "b", 2.0), Interaction("u2", "a", 3.0)])[2]
    Applied(user=1, item=0, is_new_user=True, is_new_item=False, is_repeat_pair=False)
    >>> store.user_neighbours(0, k=5).index.tolist(), store.last_item(0), store.counts().edges
    ([1, 0], 1, 3)
    """

    def __init__(self, config: GraphConfig = GraphConfig()) -> None:
        super().__init__(config)
